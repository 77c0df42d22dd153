"""Soak: one gateway process under mixed traffic, its memory sampled every second.

Starts the stand-in upstream and one uvicorn gateway process the way
``bench/overhead.py --server uvicorn`` does (gateway pinned to core 1, stand-in
to core 0, and this process with its load generator to core 0 too), then drives
it with ``bench/streamload.py`` for ``--duration`` seconds. Every connection
cycles through twelve requests: both surfaces (``/v1/chat/completions`` and
``/v1/messages``), streaming and not, and three cache cases: an identical
prompt (a hit after the first), a prompt made unique per request (a miss whose
answer is stored, so the cache keeps filling and evicting) and
``Cache-Control: no-store`` (a bypass).

Memory is read from ``/proc/<pid>/status`` of the gateway process: ``VmRSS``
every second, and ``VmHWM`` for the peak. The report gives the requests
served, the errors, the RSS once warmed up, at the end and at its peak, and a
verdict on whether memory kept growing after the warm-up.

    .venv/bin/python bench/soak.py --duration 600 --samples-out soak.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.overhead import PROMPT  # noqa: E402
from bench.servers import process_usage, start_servers  # noqa: E402
from bench.streamload import UNIQUE, Request, StreamResult, run_requests  # noqa: E402
from tests.live import LiveGateway  # noqa: E402

MODEL = "claude-haiku-4-5-20251001"
CACHE_CASES = ("hit", "unique", "no-store")

# The verdict compares the median RSS of the ten seconds up to the end of the
# warm-up with that of the last ten seconds (medians, so that no single sample
# decides), and says memory grew when the difference exceeds
# GROWTH_THRESHOLD_MB. In trial runs, once its growth had stopped, the gateway
# moved by under 0.1 MB in twelve seconds of steady load; but the heap grows in
# steps of one or two MB (pymalloc's 1 MiB arenas, glibc extending its heap)
# whenever a new peak of concurrent work arrives, so a couple of such steps
# are allowed. A fraction of RSS was rejected as the threshold: a leak's size
# follows the requests served, not the process's starting size. At the few
# hundred requests a second this gateway serves, a leak of 20 bytes a request
# crosses 4 MB within ten minutes; the growth per thousand requests is
# reported for judging anything smaller.
MEDIAN_WINDOW_S = 10
GROWTH_THRESHOLD_MB = 4.0


@dataclass(frozen=True)
class MemorySample:
    second: float
    rss_kb: int
    hwm_kb: int


class MemorySampler(threading.Thread):
    """Reads a process's memory every ``interval`` seconds until stopped.

    A thread beside the load generator rather than a process: one read of
    /proc a second costs nothing the load would notice.
    """

    def __init__(self, pid: int, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples: list[MemorySample] = []
        self.started_at = time.monotonic()
        self._stopped = threading.Event()

    def run(self) -> None:
        self.sample()
        while not self._stopped.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        usage = process_usage(self.pid)
        rss, hwm = usage.rss_kb, usage.peak_rss_kb
        second = round(time.monotonic() - self.started_at, 2)
        self.samples.append(MemorySample(second, rss, hwm))

    def stop(self) -> list[MemorySample]:
        self._stopped.set()
        self.join()
        self.sample()
        return self.samples


def gateway_pid(gateway: LiveGateway) -> int:
    """The PID of the uvicorn process itself, found from the one started.

    ``taskset`` replaces itself with the server, so the started PID is usually
    the server's; should a wrapper ever fork instead, its child is taken.
    """
    pid = gateway.process.pid
    for _ in range(3):
        if b"uvicorn" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if not children:
            break
        pid = int(children[0])
    raise RuntimeError(f"no uvicorn process under PID {gateway.process.pid}")


def _body(*, stream: bool, prompt: str) -> bytes:
    message = {"role": "user", "content": prompt}
    body = {"model": MODEL, "max_tokens": 256, "stream": stream, "messages": [message]}
    return json.dumps(body).encode()


def mixed_requests(key: str) -> list[Request]:
    """Twelve requests: two surfaces x streaming or not x three cache cases."""
    surfaces = {
        "openai": ("/v1/chat/completions", {"Authorization": f"Bearer {key}"}),
        "anthropic": (
            "/v1/messages",
            {"x-api-key": key, "anthropic-version": "2023-06-01"},
        ),
    }
    requests = []
    for surface, (path, auth) in surfaces.items():
        for stream in (True, False):
            for case in CACHE_CASES:
                prompt = f"{PROMPT} ({UNIQUE.decode()})" if case == "unique" else PROMPT
                headers = {"Content-Type": "application/json", **auth}
                if case == "no-store":
                    headers["Cache-Control"] = "no-store"
                label = f"{surface}/{'stream' if stream else 'json'}/{case}"
                body = _body(stream=stream, prompt=prompt)
                requests.append(Request(path, body, headers, label))
    return requests


def cache_check(gateway: LiveGateway, requests: list[Request]) -> dict[str, str]:
    """The X-Cache each cache case gets, to show the mix is what it claims."""
    seen = {}
    for request in requests:
        case = request.label.rsplit("/", 1)[1]
        if case in seen:
            continue
        body = request.body.replace(UNIQUE, f"check-{time.time_ns()}".encode())
        response = httpx.post(
            gateway.url + request.path,
            content=body,
            headers=request.headers,
            timeout=30,
        )
        seen[case] = response.headers.get("x-cache", f"status {response.status_code}")
    return seen


def _median_rss_mb(samples: list[MemorySample], start: float, end: float) -> float:
    window = [s.rss_kb for s in samples if start < s.second <= end]
    return round(statistics.median(window) / 1024, 1)


def memory_verdict(samples: list[MemorySample], warmup: float, requests: int) -> dict:
    """RSS at warm-up, at the end and at peak, and whether it kept growing."""
    last = samples[-1].second
    warm = _median_rss_mb(samples, warmup - MEDIAN_WINDOW_S, warmup)
    final = _median_rss_mb(samples, last - MEDIAN_WINDOW_S, last)
    growth = round(final - warm, 1)
    # The load runs at a steady rate, so its share after the warm-up is
    # estimated from time rather than counted.
    after_warmup = requests * (last - warmup) / last if last else 0
    per_thousand = 1024 * growth / (after_warmup / 1000) if after_warmup else 0.0

    return {
        "rss_warm_mb": warm,
        "rss_end_mb": round(samples[-1].rss_kb / 1024, 1),
        "rss_max_mb": round(max(s.hwm_kb for s in samples) / 1024, 1),
        "growth_after_warmup_mb": growth,
        "growth_kb_per_1000_requests": round(per_thousand, 1),
        "growth_threshold_mb": GROWTH_THRESHOLD_MB,
        "memory_grew": growth > GROWTH_THRESHOLD_MB,
    }


def write_samples(path: Path, samples: list[MemorySample]) -> None:
    rows = [asdict(sample) for sample in samples]
    if path.suffix == ".json":
        path.write_text(json.dumps(rows, indent=1))
        return

    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def report(
    load: StreamResult, samples: list[MemorySample], args: argparse.Namespace
) -> dict:
    return {
        "server": "uvicorn",
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "connections": args.connections,
        "cache_memory_mb": args.cache_mb,
        "requests": load.count,
        "requests_per_s": load.requests_per_s,
        "errors": load.errors,
        "error_kinds": load.error_kinds,
        "client_cpu_percent": load.client_cpu_percent,
        **memory_verdict(samples, args.warmup, load.count),
        "by_request": {
            label: {"count": row["count"], "errors": row["errors"]}
            for label, row in load.labels.items()
        },
    }


def soak(args: argparse.Namespace, workdir: Path) -> dict:
    standin, gateway = start_servers(workdir, args.latency_ms, "uvicorn")
    try:
        requests = mixed_requests(gateway.key)
        sampler = MemorySampler(gateway_pid(gateway))
        sampler.start()
        load = run_requests(
            gateway.url,
            requests,
            connections=args.connections,
            duration=args.duration,
            processes=args.processes,
        )
        samples = sampler.stop()
        checked = cache_check(gateway, requests)
    finally:
        gateway.stop()
        standin.stop()
    if load.errors:
        print(gateway.log_text()[-3000:], file=sys.stderr)

    if args.samples_out is not None:
        write_samples(args.samples_out, samples)
    return {**report(load, samples, args), "cache_check": checked}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=600)
    parser.add_argument(
        "--warmup",
        type=int,
        help="seconds before memory counts as warm (default: 120, or a quarter "
        "of a shorter run)",
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--latency-ms", type=int, default=0)
    # The cache is bounded by bytes; at the default 64 MB a soak would spend
    # most of its time filling it, which is growth by design, not a leak. One
    # MB fills within seconds, so evictions run all the while and the
    # identical prompt, refreshed by every hit, stays cached.
    parser.add_argument("--cache-mb", type=int, default=1)
    parser.add_argument("--samples-out", type=Path, help="a .csv or .json file")
    args = parser.parse_args()

    if args.warmup is None:
        # Warm means every bounded structure is full: the rate limiter's
        # sliding log holds a minute of requests, and the token memo and the
        # response cache fill within the next.
        args.warmup = min(120, args.duration // 4)
    if args.warmup < MEDIAN_WINDOW_S:
        parser.error(f"--warmup must be at least {MEDIAN_WINDOW_S}s")
    if args.duration < args.warmup + MEDIAN_WINDOW_S:
        parser.error(f"--duration must exceed --warmup by {MEDIAN_WINDOW_S}s")
    return args


def main() -> None:
    args = parse_args()
    os.environ["CACHE_MEMORY_MAX_BYTES"] = str(args.cache_mb * 1024 * 1024)
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})

    with tempfile.TemporaryDirectory() as tmp:
        result = soak(args, Path(tmp))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
