"""Cost benchmark: a workload's Claude bill with and without the gateway.

Starts two stand-in upstreams and one gateway process. Every request of the
workload is sent twice, one after the other:

- through the gateway (OpenAI surface, ``X-Route-Strategy: explicit``,
  ``X-TokensGate-Optimize: safe`` by default), whose stand-in is the
  "with the gateway" upstream;
- straight to the other stand-in, as the same Anthropic Messages request the
  gateway's translation builds, with nothing added: what a client talking to
  Anthropic directly would send.

Each stand-in simulates Anthropic's prompt caching and keeps a bill at
Anthropic's prices (``GET /_control/stats`` → ``billing``); the reduction is
the difference between the two bills. The gateway's own accounting (the
``cost`` object of each response) is checked against its stand-in's bill.

The workload is OpenAI-format sessions, one JSON object per line, each with
``session``, ``kind`` and ``requests`` (see the public workload's README).

    .venv/bin/python bench/cost_replay.py --workload PATH/workload-public.jsonl
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The bench reuses the tests' process helpers, the gateway's own translation
# and the stand-in's price table.
from gateway.standin.billing import usage_cost
from gateway.standin.caching import CacheUsage
from gateway.standin.catalog import resolve_model
from gateway.translate.openai_request import to_anthropic_request
from tests.live import StandIn, gateway_env, start_gateway, start_standin

UPSTREAM_KEY = "sk-ant-standin-upstream-secret-0123456789"


@dataclass
class Tally:
    """What one kind of session (or all of them) cost both ways, in USD."""

    requests: int = 0
    hits: int = 0
    direct_input: float = 0.0
    direct_output: float = 0.0
    gateway_input: float = 0.0
    gateway_output: float = 0.0
    direct_input_tokens: int = 0
    direct_output_tokens: int = 0
    gateway_output_tokens: int = 0
    # The direct run's output cost on requests the gateway did not serve from
    # its cache: the gateway's output bill if answers did not depend on how
    # the prompt was written (the stand-in's do; see docs/cost.md).
    same_output: float = 0.0
    tokens_saved: int = 0
    saved_by: Counter = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        for name, value in vars(other).items():
            if name == "saved_by":
                self.saved_by.update(value)
            else:
                setattr(self, name, getattr(self, name) + value)

    @property
    def direct(self) -> float:
        return self.direct_input + self.direct_output

    @property
    def gateway(self) -> float:
        return self.gateway_input + self.gateway_output


def reduction(before: float, after: float) -> float:
    return 1 - after / before if before else 0.0


class Replay:
    """Sends each request through the gateway and directly, and tallies the cost."""

    def __init__(self, gateway_url: str, key: str, direct: StandIn, args) -> None:
        self.gateway = httpx.Client(
            base_url=gateway_url,
            timeout=120,
            headers={
                "Authorization": f"Bearer {key}",
                "X-Route-Strategy": args.route,
                "X-TokensGate-Optimize": args.optimize,
            },
        )
        self.direct = httpx.Client(
            base_url=direct.url,
            timeout=120,
            headers={"x-api-key": UPSTREAM_KEY, "anthropic-version": "2023-06-01"},
        )
        self.tallies: dict[str, Tally] = defaultdict(Tally)

    def session(self, session: dict) -> None:
        for request in session["requests"]:
            tally = self.tallies[session["kind"]]
            tally.requests += 1
            hit = self._through_gateway(request, tally)
            output_cost = self._direct(request, tally)
            tally.same_output += 0.0 if hit else output_cost

    def _through_gateway(self, request: dict, tally: Tally) -> bool:
        reply = self.gateway.post("/v1/chat/completions", json=request)
        reply.raise_for_status()
        answer = reply.json()
        hit = reply.headers["x-cache"] == "HIT"
        tally.hits += hit
        tally.gateway_input += answer["cost"]["input_cost"]
        tally.gateway_output += answer["cost"]["output_cost"]
        tally.gateway_output_tokens += (
            0 if hit else answer["usage"]["completion_tokens"]
        )
        tally.tokens_saved += int(reply.headers.get("x-tokensgate-tokens-saved", 0))
        tally.saved_by.update(_per_transform(reply.headers))
        return hit

    def _direct(self, request: dict, tally: Tally) -> float:
        body = anthropic_body(request)
        reply = self.direct.post("/v1/messages", json=body)
        reply.raise_for_status()
        usage = reply.json()["usage"]
        cache = CacheUsage(
            input_tokens=usage["input_tokens"],
            cache_write_5m=usage.get("cache_creation_input_tokens") or 0,
            cache_read=usage.get("cache_read_input_tokens") or 0,
        )
        prices = resolve_model(body["model"]).prices
        tally.direct_input += usage_cost(prices, cache, 0)
        output_cost = usage_cost(prices, CacheUsage(0), usage["output_tokens"])
        tally.direct_output += output_cost
        tally.direct_input_tokens += (
            cache.input_tokens + cache.cache_creation + cache.cache_read
        )
        tally.direct_output_tokens += usage["output_tokens"]
        return output_cost


def anthropic_body(request: dict) -> dict:
    """The Anthropic request a client would send for this OpenAI request.

    The workload is valid, so the gateway's validation (which reads Django
    settings) is skipped and only its translation is used.
    """
    return to_anthropic_request(
        copy.deepcopy(request), model=request["model"], default_max_tokens=1024
    )


def _per_transform(headers: httpx.Headers) -> Counter:
    detail = headers.get("x-tokensgate-optimizations", "")
    saved: Counter = Counter()
    for part in filter(None, detail.split(",")):
        name, _, value = part.partition("=")
        if name not in ("mode", "breakpoints") and value.isdigit():
            saved[name] += int(value)
    return saved


def load_sessions(path: Path, limit: int | None) -> list[dict]:
    with path.open() as lines:
        sessions = [json.loads(line) for line in lines if line.strip()]
    return sessions[:limit] if limit else sessions


def start_servers(folder: Path, args) -> tuple[StandIn, StandIn, object]:
    through = start_standin(folder, "standin-through-gateway")
    direct = start_standin(folder, "standin-direct")
    for standin in (through, direct):
        standin.control("POST", "/_control/config", {"reply_tokens": args.reply_tokens})
    env = gateway_env(
        folder / "gateway",
        anthropic_url=through.url,
        ollama_url=through.url,
        LOG_LEVEL="WARNING",
    )
    return through, direct, start_gateway(folder / "gateway", env)


def report(replay: Replay, through: StandIn, direct: StandIn, seconds: float) -> dict:
    total = Tally()
    for tally in replay.tallies.values():
        total.add(tally)
    rows = [*sorted(replay.tallies.items()), ("all", total)]
    print(f"\n{total.requests} requests in {seconds:.1f} s (USD)")
    print_table(rows)

    billed_through = through.stats()["billing"]["cost_usd"]
    billed_direct = direct.stats()["billing"]["cost_usd"]
    overall = reduction(billed_direct, billed_through)
    same_output = total.gateway_input + total.same_output
    print(
        f"\nbilled by the stand-ins: direct ${billed_direct:.4f}, through the "
        f"gateway ${billed_through:.4f}: reduction {overall:.1%}"
    )
    print(f"gateway's own accounting: ${total.gateway:.4f}")
    print(
        f"with the direct run's answers on every miss: ${same_output:.4f}, "
        f"reduction {reduction(billed_direct, same_output):.1%}"
    )
    print(f"response cache hit rate: {total.hits / total.requests:.1%}")
    savings = ", ".join(f"{name} {n}" for name, n in total.saved_by.most_common())
    print(f"tokens saved per transform: {savings or 'none'}")

    return {
        "direct_usd": billed_direct,
        "gateway_usd": billed_through,
        "gateway_accounted_usd": round(total.gateway, 8),
        "same_output_usd": round(same_output, 8),
        "reduction": round(overall, 4),
        "hit_rate": round(total.hits / total.requests, 4),
        "tokens_saved": dict(total.saved_by),
        "kinds": {kind: _figures(t) for kind, t in rows},
    }


def print_table(rows: list[tuple[str, Tally]]) -> None:
    print(
        f"{'kind':<7}{'reqs':>5}{'hits':>5}{'direct':>9}{'gateway':>9}{'saved':>7}"
        f"{'input: direct':>15}{'gateway':>9}{'saved':>7}"
        f"{'output tokens: direct':>23}{'gateway':>9}{'tokens removed':>16}"
    )
    for kind, t in rows:
        print(
            f"{kind:<7}{t.requests:>5}{t.hits:>5}{t.direct:>9.4f}{t.gateway:>9.4f}"
            f"{reduction(t.direct, t.gateway):>7.1%}"
            f"{t.direct_input:>15.4f}{t.gateway_input:>9.4f}"
            f"{reduction(t.direct_input, t.gateway_input):>7.1%}"
            f"{t.direct_output_tokens:>23}{t.gateway_output_tokens:>9}"
            f"{t.tokens_saved / max(t.direct_input_tokens, 1):>16.1%}"
        )


def _figures(t: Tally) -> dict:
    return {
        "requests": t.requests,
        "hits": t.hits,
        "direct_usd": round(t.direct, 6),
        "gateway_usd": round(t.gateway, 6),
        "reduction": round(reduction(t.direct, t.gateway), 4),
        "input_reduction": round(reduction(t.direct_input, t.gateway_input), 4),
        "direct_output_tokens": t.direct_output_tokens,
        "gateway_output_tokens": t.gateway_output_tokens,
        "tokens_removed": round(t.tokens_saved / max(t.direct_input_tokens, 1), 4),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workload",
        type=Path,
        required=True,
        help="JSON lines of OpenAI-format sessions",
    )
    parser.add_argument(
        "--optimize", default="safe", choices=("off", "safe", "aggressive")
    )
    parser.add_argument(
        "--route",
        default="explicit",
        choices=("explicit", "auto", "cheap", "expensive"),
    )
    parser.add_argument(
        "--reply-tokens",
        type=int,
        default=64,
        help="length of every stand-in answer, in tokens",
    )
    parser.add_argument(
        "--sessions", type=int, default=None, help="replay only the first N"
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="write the figures here"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    sessions = load_sessions(args.workload, args.sessions)
    with tempfile.TemporaryDirectory(prefix="cost-replay-") as tmp:
        through, direct, gateway = start_servers(Path(tmp), args)
        try:
            replay = Replay(gateway.url, gateway.key, direct, args)
            started = time.monotonic()
            for session in sessions:
                replay.session(session)
            figures = report(replay, through, direct, time.monotonic() - started)
        finally:
            for server in (gateway, through, direct):
                server.stop()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
