"""Failover figures: how fast an outage of Claude is detected, survived and left.

Starts two stand-ins (Anthropic and Ollama) and one gateway process, sends a
steady stream of OpenAI-format requests (one client, one every ``--interval``
seconds), and in each round:

1. measures the normal latency through Anthropic (the baseline);
2. starts an outage (``--outage 503`` answers 503 at once, ``529`` answers 529
   with ``retry-after: 1``, ``timeout`` makes the upstream hang past the
   gateway's read timeout) and measures the time
   until the breaker opens (*time to detect*) and the latency of the requests
   answered meanwhile, less the baseline (*added latency while detecting*);
3. measures the latency while the breaker is open and Ollama answers
   (*latency while failed over*, and its difference from the baseline);
4. ends the outage and measures the time until a request is answered by
   Anthropic again (*time to recover*).

Rounds are repeated ``--repeat`` times and reported as the median with the
min-max spread. The stand-ins answer at once, so the figures are the
gateway's own (the breaker, retries and failover), not a model's.

    .venv/bin/python bench/failover.py --outage 503 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The bench reuses the tests' process helpers.
from tests.live import (
    LiveGateway,
    StandIn,
    gateway_env,
    start_gateway,
    start_standin,
)

BODY = {
    "model": "claude-haiku-4-5",
    "messages": [{"role": "user", "content": "Name three prime numbers."}],
    "max_tokens": 64,
}
OUTAGES = {
    "503": {"kind": "status", "status": 503, "count": -1, "retry_after": None},
    "529": {"kind": "status", "status": 529, "count": -1, "retry_after": 1},
    "timeout": {"kind": "latency", "seconds": 30, "count": -1},
}


@dataclass
class Round:
    baseline_ms: float = 0.0
    detect_s: float = 0.0
    detecting_added_ms: list[float] = field(default_factory=list)
    failed_over_ms: float = 0.0
    recover_s: float = 0.0


class Driver:
    """Sends one request at a time to the gateway and times it."""

    def __init__(self, gateway: LiveGateway, interval: float) -> None:
        self.http = httpx.Client(
            base_url=gateway.url,
            timeout=120,
            headers={"Authorization": f"Bearer {gateway.key}"},
        )
        self.interval = interval

    def send(self) -> tuple[float, httpx.Headers]:
        started = time.perf_counter()
        response = self.http.post("/v1/chat/completions", json=BODY)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"a client request failed: {response.status_code}")
        time.sleep(self.interval)
        return elapsed_ms, response.headers

    def until(self, done, timeout: float) -> list[tuple[float, httpx.Headers]]:
        """Send requests until ``done(headers)``; return every one sent."""
        sent, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            sent.append(self.send())
            if done(sent[-1][1]):
                return sent
        raise RuntimeError("the expected state was never reached")


def run_round(
    driver: Driver, anthropic: StandIn, outage: dict, cooldown: float
) -> Round:
    result = Round()
    result.baseline_ms = statistics.median(driver.send()[0] for _ in range(20))

    anthropic.faults(outage)
    started = time.monotonic()
    detecting = driver.until(_breaker_open, timeout=120)
    result.detect_s = time.monotonic() - started
    result.detecting_added_ms = [ms - result.baseline_ms for ms, _ in detecting]

    failed_over = [driver.send() for _ in range(20)]
    assert all(h["x-tokensgate-provider"] == "ollama" for _, h in failed_over)
    result.failed_over_ms = statistics.median(ms for ms, _ in failed_over)

    anthropic.reset()
    started = time.monotonic()
    driver.until(lambda h: h["x-tokensgate-provider"] == "anthropic", cooldown + 60)
    result.recover_s = time.monotonic() - started
    return result


def _breaker_open(headers: httpx.Headers) -> bool:
    return headers["x-tokensgate-cb-anthropic"] == "open"


def spread(values: list[float], unit: str, digits: int = 1) -> str:
    if not values:
        return "n/a"
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:.{digits}f} {unit} ({low:.{digits}f}–{high:.{digits}f})"


def report(rounds: list[Round], args: argparse.Namespace) -> None:
    detecting = [
        statistics.median(r.detecting_added_ms) for r in rounds if r.detecting_added_ms
    ]
    print(
        f"\nOutage: {args.outage}; threshold {args.threshold}, window 30 s, "
        f"cooldown {args.cooldown} s, MAX_RETRIES {args.retries}, read timeout "
        f"{args.read_timeout} s; one request every {args.interval * 1000:.0f} ms; "
        f"{len(rounds)} rounds (median, min–max)\n"
    )
    print("| figure | value |\n|---|---|")
    print(
        f"| baseline latency through Anthropic | "
        f"{spread([r.baseline_ms for r in rounds], 'ms')} |"
    )
    print(
        f"| time to detect the outage (breaker open) | "
        f"{spread([r.detect_s for r in rounds], 's', 2)} |"
    )
    print(f"| added latency per request while detecting | {spread(detecting, 'ms')} |")
    print(
        f"| latency while failed over to Ollama | "
        f"{spread([r.failed_over_ms for r in rounds], 'ms')} |"
    )
    print(
        f"| added latency while failed over | "
        f"{spread([r.failed_over_ms - r.baseline_ms for r in rounds], 'ms')} |"
    )
    print(
        f"| time to recover after Claude returns | "
        f"{spread([r.recover_s for r in rounds], 's', 2)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", choices=OUTAGES, default="503")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threshold", type=int, default=5)
    parser.add_argument("--cooldown", type=float, default=10.0)
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument("--read-timeout", type=float, default=2.0)
    parser.add_argument("--interval", type=float, default=0.05)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        anthropic = start_standin(tmp_dir, "standin-anthropic")
        ollama = start_standin(tmp_dir, "standin-ollama")
        env = gateway_env(
            tmp_dir / "gateway",
            anthropic_url=anthropic.url,
            ollama_url=ollama.url,
            LOG_LEVEL="WARNING",
            CACHE_ENABLED="false",
            CB_FAILURE_THRESHOLD=str(args.threshold),
            CB_WINDOW_SECONDS="30",
            CB_COOLDOWN_SECONDS=str(args.cooldown),
            MAX_RETRIES=str(args.retries),
            UPSTREAM_READ_TIMEOUT=str(args.read_timeout),
        )
        gateway = start_gateway(tmp_dir / "gateway", env)
        try:
            driver = Driver(gateway, args.interval)
            rounds = [
                run_round(driver, anthropic, OUTAGES[args.outage], args.cooldown)
                for _ in range(args.repeat)
            ]
        finally:
            for server in (gateway, anthropic, ollama):
                server.stop()
    report(rounds, args)


if __name__ == "__main__":
    main()
