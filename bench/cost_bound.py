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
no expiry apply: a placement that knew the future could not do better. The
baseline is the workload as sent, every input token uncached and no response
cache. Every answer is ``--reply-tokens`` long on both sides; ``input only``
compares the input bills alone.

    .venv/bin/python bench/cost_bound.py --workload PATH/workload-public.jsonl
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
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

Request = tuple[str, str, PromptLayout, int, bytes]


@dataclass
class Bill:
    """Input and output cost of one kind of session, in USD."""

    input: float = 0.0
    output: float = 0.0

    @property
    def total(self) -> float:
        return self.input + self.output


def optimised_requests(path: Path, mode: str) -> list[Request]:
    """(kind, model, optimised layout, original tokens, identity) per request."""
    optimizer = Optimizer()
    requests = []
    for line in path.read_text().splitlines():
        session = json.loads(line)
        for request in session["requests"]:
            body = to_anthropic_request(
                copy.deepcopy(request), model=request["model"], default_max_tokens=1024
            )
            original = layout_prompt(body).total_tokens
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
            requests.append(
                (session["kind"], request["model"], layout, original, identity)
            )
    return requests


class Bound:
    """Walks the requests in order, pricing each as a perfect cache would."""

    def __init__(self, requests: list[Request], reply_tokens: int) -> None:
        self.requests = requests
        self.reply_tokens = reply_tokens
        self.uses_left = Counter(
            (model, segment.digest)
            for _, model, layout, _, _ in requests
            for segment in layout.segments
        )
        self.seen_blocks: set = set()
        self.seen_requests: set[bytes] = set()
        self.ideal: dict[str, Bill] = defaultdict(Bill)
        self.baseline: dict[str, Bill] = defaultdict(Bill)

    def run(self) -> None:
        for kind, model, layout, original, identity in self.requests:
            prices = resolve_model(model).prices
            output = self.reply_tokens * prices.output / 1e6
            self.baseline[kind].input += original * prices.input / 1e6
            self.baseline[kind].output += output
            for segment in layout.segments:
                self.uses_left[(model, segment.digest)] -= 1
            if identity in self.seen_requests:
                continue
            self.seen_requests.add(identity)
            self.ideal[kind].input += self._ideal_input(model, layout, prices) / 1e6
            self.ideal[kind].output += output

    def _ideal_input(self, model: str, layout: PromptLayout, prices) -> float:
        segments = layout.segments
        read = max(
            (s.end_tokens for s in segments if (model, s.digest) in self.seen_blocks),
            default=0,
        )
        reused = max(
            (s.end_tokens for s in segments if self.uses_left[(model, s.digest)] > 0),
            default=0,
        )
        written = max(reused - read, 0)
        uncached = layout.total_tokens - read - written
        self.seen_blocks.update((model, s.digest) for s in segments)
        return (
            read * prices.cache_read
            + written * prices.cache_write_5m
            + uncached * prices.input
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", type=Path, required=True)
    parser.add_argument("--optimize", default="safe", choices=("off", "safe"))
    parser.add_argument("--reply-tokens", type=int, default=64)
    args = parser.parse_args()

    bound = Bound(optimised_requests(args.workload, args.optimize), args.reply_tokens)
    bound.run()
    print(
        f"{'kind':<8}{'baseline $':>12}{'ideal $':>10}{'reduction':>11}"
        f"{'input only':>12}"
    )
    for kind in [*sorted(bound.ideal), "all"]:
        base, best = _bills(bound.baseline, kind), _bills(bound.ideal, kind)
        print(
            f"{kind:<8}{base.total:>12.4f}{best.total:>10.4f}"
            f"{1 - best.total / base.total:>11.1%}{1 - best.input / base.input:>12.1%}"
        )


def _bills(bills: dict[str, Bill], kind: str) -> Bill:
    if kind != "all":
        return bills[kind]
    return Bill(
        sum(b.input for b in bills.values()), sum(b.output for b in bills.values())
    )


if __name__ == "__main__":
    main()
