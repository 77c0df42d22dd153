"""The best bill any prompt-caching strategy could reach on a workload.

Puts the measured reduction of ``cost_replay.py`` in context. Computed in
process with the stand-in's own token counts and prices, for the workload's
requests after the gateway's translation and its optimiser (``--optimize``):

- a request identical to an earlier one is a response-cache hit and free;
- every prompt block whose whole prefix (same model) was sent before is read
  from the cache, at the read price;
- of the rest, blocks that some later request reuses are written to the
  cache, at the 5-minute write price, and the others are sent uncached.

No minimum cacheable length, no 4-breakpoint limit, no 20-block lookback and
no expiry apply: a placement that knew the future could not do better. Every
answer is ``--reply-tokens`` long, in the bound and in its baseline (every
input token uncached, no response cache), so the ratio compares like with like.

    .venv/bin/python bench/cost_bound.py --workload PATH/workload-public.jsonl
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tokensgate_site.settings")

import django

django.setup()

import orjson

from gateway.services.exchange import Exchange
from gateway.services.optimizer import Optimizer
from gateway.standin.catalog import resolve_model
from gateway.standin.segments import PromptLayout, layout_prompt
from gateway.translate.openai_request import to_anthropic_request
from tests.services.cache_fakes import HAIKU, SONNET, client

Request = tuple[str, str, PromptLayout, bytes]


def optimised_requests(path: Path, mode: str) -> list[Request]:
    """(kind, model, prompt layout, identity) of each request, in order."""
    optimizer = Optimizer()
    requests = []
    for line in path.read_text().splitlines():
        session = json.loads(line)
        for request in session["requests"]:
            body = to_anthropic_request(
                copy.deepcopy(request), model=request["model"], default_max_tokens=1024
            )
            identity = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
            exchange = Exchange(
                request_id="bound",
                surface="openai",
                client=client(),
                body=body,
                stream=False,
                optimize_header=mode,
            )
            exchange.model = SONNET if "sonnet" in request["model"] else HAIKU
            optimizer.apply(exchange)
            layout = layout_prompt(exchange.body)
            requests.append((session["kind"], request["model"], layout, identity))
    return requests


def bound(requests: list[Request], reply_tokens: int) -> tuple[dict, dict]:
    """Ideal and baseline cost per kind of session, in USD."""
    uses_left = Counter(
        (model, segment.digest)
        for _, model, layout, _ in requests
        for segment in layout.segments
    )
    seen_blocks: set = set()
    seen_requests: set[bytes] = set()
    ideal: dict[str, float] = defaultdict(float)
    baseline: dict[str, float] = defaultdict(float)
    for kind, model, layout, identity in requests:
        prices = resolve_model(model).prices
        output = reply_tokens * prices.output
        baseline[kind] += (layout.total_tokens * prices.input + output) / 1e6
        for segment in layout.segments:
            uses_left[(model, segment.digest)] -= 1
        if identity in seen_requests:
            continue
        seen_requests.add(identity)

        read = max(
            (s.end_tokens for s in layout.segments if (model, s.digest) in seen_blocks),
            default=0,
        )
        reused = max(
            (s.end_tokens for s in layout.segments if uses_left[(model, s.digest)] > 0),
            default=0,
        )
        written = max(reused - read, 0)
        uncached = layout.total_tokens - read - written
        seen_blocks.update((model, s.digest) for s in layout.segments)
        ideal[kind] += (
            read * prices.cache_read
            + written * prices.cache_write_5m
            + uncached * prices.input
            + output
        ) / 1e6
    return ideal, baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", type=Path, required=True)
    parser.add_argument("--optimize", default="safe", choices=("off", "safe"))
    parser.add_argument("--reply-tokens", type=int, default=64)
    args = parser.parse_args()

    ideal, baseline = bound(
        optimised_requests(args.workload, args.optimize), args.reply_tokens
    )
    print(f"{'kind':<8}{'baseline $':>12}{'ideal $':>10}{'reduction':>11}")
    for kind in [*sorted(ideal), "all"]:
        base = sum(baseline.values()) if kind == "all" else baseline[kind]
        best = sum(ideal.values()) if kind == "all" else ideal[kind]
        print(f"{kind:<8}{base:>12.4f}{best:>10.4f}{1 - best / base:>11.1%}")


if __name__ == "__main__":
    main()
