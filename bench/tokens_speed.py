"""Per-request cost of the prompt work on the request path: tokens, optimiser, cache key.

For each request of a workload (the public one with ``--workload``, else a
generated agent conversation), measures in process:

- ``estimate (cold)``: tiktoken on text never seen before (the memo cleared);
- ``estimate``: the same request again, as a conversation's next turn sees
  its resent history (the memo warm);
- ``optimise``: the safe-mode optimiser on a fresh copy of the body;
- ``cache key``: the response cache's canonical SHA-256.

Each figure is the median over ``--repeat`` passes of the mean per request,
with the min-max spread.

    .venv/bin/python bench/tokens_speed.py [--workload PATH] [--repeat 5]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tokensgate_site.settings")

import django

django.setup()

from gateway.services import tokens
from gateway.services.exchange import Exchange
from gateway.services.optimizer import Optimizer
from gateway.services.response_cache import cache_key
from gateway.translate.openai_request import to_anthropic_request
from tests.services.cache_fakes import SONNET, client


def workload_bodies(path: Path | None) -> list[dict]:
    if path is None:
        return generated_bodies()
    bodies = []
    for line in path.read_text().splitlines():
        for request in json.loads(line)["requests"]:
            body = copy.deepcopy(request)
            bodies.append(
                to_anthropic_request(
                    body, model=request["model"], default_max_tokens=1024
                )
            )
    return bodies


def generated_bodies(steps: int = 8) -> list[dict]:
    """An agent loop: a long system prompt, then pretty JSON tool results."""
    system = "You are a coding agent. Follow the repository's conventions. " * 400
    result = json.dumps(
        [{"id": i, "name": f"file_{i}.py", "size": i * 100} for i in range(60)],
        indent=2,
    )
    messages: list[dict] = [{"role": "user", "content": "List the files."}]
    bodies = []
    for step in range(steps):
        bodies.append(
            {
                "model": SONNET.model_id,
                "max_tokens": 1024,
                "system": system,
                "messages": copy.deepcopy(messages),
            }
        )
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": f"t{step}",
                        "name": "ls",
                        "input": {"path": "."},
                    }
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": f"t{step}",
                        "content": result,
                    }
                ],
            }
        )
    return bodies


def exchange(body: dict) -> Exchange:
    made = Exchange(
        request_id="bench",
        surface="openai",
        client=client(),
        body=copy.deepcopy(body),
        stream=False,
    )
    made.model = SONNET
    return made


def per_request_us(
    bodies: list, work: Callable[[object], object], prepare=None
) -> float:
    items = [prepare(body) for body in bodies] if prepare else bodies
    started = time.perf_counter()
    for item in items:
        work(item)
    return (time.perf_counter() - started) / len(items) * 1e6


def cold_estimate(bodies: list[dict]) -> float:
    tokens._memo.clear()
    return per_request_us(bodies, tokens.estimate_input_tokens)


def measure(bodies: list[dict], repeat: int) -> dict[str, list[float]]:
    optimizer = Optimizer()
    for body in bodies:
        optimizer.apply(exchange(body))

    runs: dict[str, list[float]] = {}
    for _ in range(repeat):
        figures = {
            "estimate": per_request_us(bodies, tokens.estimate_input_tokens),
            "optimise": per_request_us(bodies, optimizer.apply, prepare=exchange),
            "cache key": per_request_us(bodies, cache_key, prepare=exchange),
        }
        for name, value in figures.items():
            runs.setdefault(name, []).append(value)
    # Last, as clearing the memo would make the other figures cold as well.
    runs["estimate (cold)"] = [cold_estimate(bodies) for _ in range(repeat)]
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    bodies = workload_bodies(args.workload)
    runs = measure(bodies, args.repeat)

    print(f"{len(bodies)} requests, median of {args.repeat} passes, µs per request")
    for name, values in runs.items():
        print(
            f"{name:<17}{statistics.median(values):>9.0f}"
            f"   ({min(values):.0f}–{max(values):.0f})"
        )


if __name__ == "__main__":
    main()
