"""Gateway overhead: the same load through a gateway and directly, same run.

For each upstream latency, the stand-in upstream starts on core 0 and each
gateway in turn on core 1 (``bench/servers.py``). Every case is driven through
the gateway and then, as the same work in Anthropic form, directly at the
stand-in: non-streaming requests with ``wrk`` (Debian package ``wrk``),
streaming ones with ``bench/streamload.py``, which times the first text. A row
reports requests per second, p50 / p99 latency, the latency the gateway adds,
its CPU time per request and its peak memory.

Cases (TokensGate runs them all; LiteLLM and Portkey, with ``--compare``, the
OpenAI-surface ones without a cache):

- ``openai``: ``POST /v1/chat/completions`` with ``Cache-Control: no-store``,
  so every request goes upstream;
- ``openai-stream``: the same with ``"stream": true``;
- ``openai-cache-hit``: the first request is stored, every later one is
  answered from the response cache;
- ``anthropic`` and ``anthropic-stream``: ``POST /v1/messages``, relayed.

    .venv/bin/python bench/overhead.py                     # TokensGate only
    .venv/bin/python bench/overhead.py --compare           # and LiteLLM, Portkey
    .venv/bin/python bench/overhead.py --duration 3 --connections 1 \\
        --latency-ms 0 --cases openai                      # a quick look
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import competitors, report, streamload  # noqa: E402
from bench.servers import (  # noqa: E402
    LOAD_CORE,
    SERVER_CORE,
    SERVERS,
    pinned,
    process_usage,
    start_standin,
    start_tokensgate,
)

MODEL = "claude-haiku-4-5-20251001"
PROMPT = "Summarise the benefits of an API gateway in one paragraph."
CASES = ("openai", "openai-stream", "openai-cache-hit", "anthropic", "anthropic-stream")
COMPETITOR_CASES = ("openai", "openai-stream")
WARMUP_SECONDS = 2

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [[%(body)s]]
%(headers)s
"""


@dataclass(frozen=True)
class Load:
    """One request, repeated by the load generator."""

    url: str
    body: dict
    headers: dict[str, str]

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


@dataclass
class Figures:
    """What one load run measured; latencies in milliseconds."""

    rps: float
    p50: float
    p99: float
    errors: int
    requests: int
    first_text_p50: float | None = None
    first_text_p99: float | None = None


@dataclass
class Row:
    target: str
    case: str
    upstream_latency_ms: int
    connections: int
    through: Figures
    direct: Figures
    cpu_ms_per_request: float
    peak_rss_mb: float
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Target:
    """A gateway under test: where it listens and how each case is sent to it."""

    name: str
    pid: int
    loads: dict[str, Load]
    stop: Callable[[], object]


# -- the requests ------------------------------------------------------------


def messages_body(*, stream: bool) -> dict:
    body = {
        "model": MODEL,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    if stream:
        body["stream"] = True
    return body


def direct_load(standin_url: str, *, stream: bool) -> Load:
    headers = {
        "Content-Type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": "bench",
    }
    return Load(standin_url + "/v1/messages", messages_body(stream=stream), headers)


def tokensgate_loads(url: str, key: str) -> dict[str, Load]:
    chat = url + "/v1/chat/completions"
    openai = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    native = {
        "Content-Type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": key,
    }
    # The load generators repeat one body, so without no-store every request
    # after the first would be a cache hit; the miss path is the one measured.
    miss = {"Cache-Control": "no-store"}
    return {
        "openai": Load(chat, messages_body(stream=False), {**openai, **miss}),
        "openai-stream": Load(chat, messages_body(stream=True), {**openai, **miss}),
        "openai-cache-hit": Load(chat, messages_body(stream=False), openai),
        "anthropic": Load(
            url + "/v1/messages", messages_body(stream=False), {**native, **miss}
        ),
        "anthropic-stream": Load(
            url + "/v1/messages", messages_body(stream=True), {**native, **miss}
        ),
    }


def competitor_loads(target: competitors.Target) -> dict[str, Load]:
    chat = target.url + "/v1/chat/completions"
    return {
        "openai": Load(chat, messages_body(stream=False), target.headers),
        "openai-stream": Load(chat, messages_body(stream=True), target.headers),
    }


# -- the load generators -----------------------------------------------------


def run_wrk(load: Load, *, connections: int, duration: int, workdir: Path) -> Figures:
    headers = "\n".join(
        f'wrk.headers["{name}"] = "{value}"' for name, value in load.headers.items()
    )
    script = workdir / "request.lua"
    script.write_text(WRK_SCRIPT % {"body": json.dumps(load.body), "headers": headers})
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(script),
        load.url,
    ]
    output = subprocess.run(
        pinned(command, LOAD_CORE), capture_output=True, text=True, check=True
    ).stdout
    return parse_wrk(output)


def _duration_ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise RuntimeError(f"cannot read a wrk duration from {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(output: str) -> Figures:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    # Anchored to the line: a thread-stats column such as "87.50%" must not
    # pass for the 50th percentile.
    p50 = _duration_ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = _duration_ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(count) for count in socket_errors.groups())
    return Figures(rps, p50, p99, errors, requests)


def run_streams(load: Load, *, connections: int, duration: int) -> Figures:
    result = streamload.run(
        load.url,
        json.dumps(load.body).encode(),
        load.headers,
        connections=connections,
        duration=duration,
        warmup=1.0,
    )
    return Figures(
        rps=result.requests_per_s,
        p50=result.completion_p50_ms or 0.0,
        p99=result.completion_p99_ms or 0.0,
        errors=result.errors,
        requests=result.count,
        first_text_p50=result.first_text_p50_ms,
        first_text_p99=result.first_text_p99_ms,
    )


def drive(load: Load, *, connections: int, duration: int, workdir: Path) -> Figures:
    if load.stream:
        return run_streams(load, connections=connections, duration=duration)
    return run_wrk(load, connections=connections, duration=duration, workdir=workdir)


# -- one measurement ---------------------------------------------------------


def measure(
    target: Target,
    case: str,
    direct: Load,
    *,
    connections: int,
    duration: int,
    workdir: Path,
) -> tuple[Figures, Figures, float]:
    """Gateway then direct; CPU per request from the gateway's own /proc."""
    before = process_usage(target.pid)
    through = drive(
        target.loads[case], connections=connections, duration=duration, workdir=workdir
    )
    after = process_usage(target.pid)
    direct_figures = drive(
        direct, connections=connections, duration=duration, workdir=workdir
    )

    # Requests still in flight at the window's edges are a rounding error
    # against thousands completed inside it.
    # TODO: for streams the CPU also covers streamload's 1 s warm-up, which
    # its count leaves out, so the figure runs up to 1/13 high at 12 s runs.
    cpu_ms = (after.cpu_seconds - before.cpu_seconds) * 1000 / max(through.requests, 1)
    return through, direct_figures, cpu_ms


def median_figures(runs: list[Figures]) -> Figures:
    def mid(values):
        present = [value for value in values if value is not None]
        return statistics.median(present) if present else None

    return Figures(
        rps=mid([run.rps for run in runs]),
        p50=mid([run.p50 for run in runs]),
        p99=mid([run.p99 for run in runs]),
        errors=sum(run.errors for run in runs),
        requests=sum(run.requests for run in runs),
        first_text_p50=mid([run.first_text_p50 for run in runs]),
        first_text_p99=mid([run.first_text_p99 for run in runs]),
    )


def measure_case(
    target: Target, case: str, direct: Load, *, latency: int, connections: int, args
) -> Row:
    runs = [
        measure(
            target,
            case,
            direct,
            connections=connections,
            duration=args.duration,
            workdir=args.workdir,
        )
        for _ in range(args.repeat)
    ]
    through = [run[0] for run in runs]
    directs = [run[1] for run in runs]
    spreads = report.spreads(through, directs)
    return Row(
        target=target.name,
        case=case,
        upstream_latency_ms=latency,
        connections=connections,
        through=median_figures(through),
        direct=median_figures(directs),
        cpu_ms_per_request=statistics.median(run[2] for run in runs),
        peak_rss_mb=process_usage(target.pid).peak_rss_kb / 1024,
        extra={"repeat": args.repeat, **spreads},
    )


# -- the targets -------------------------------------------------------------


def start_targets(names: list[str], standin, workdir: Path, args) -> Iterator[Target]:
    """Each gateway in turn, so that only one runs on the server core."""
    for name in names:
        if name == "tokensgate":
            gateway = start_tokensgate(workdir, standin, args.server)
            loads = tokensgate_loads(gateway.url, gateway.key)
            target = Target(name, gateway.process.pid, loads, gateway.stop)
        else:
            started = competitors.COMPETITORS[name](
                workdir,
                standin.url,
                core=SERVER_CORE,
                install_dir=args.competitors_dir,
            )
            target = Target(name, started.pid, competitor_loads(started), started.stop)
        try:
            yield target
        finally:
            target.stop()


def run_latency(latency: int, args) -> Iterator[Row]:
    # A fresh folder per upstream: each gateway gets a new database and key.
    workdir = args.workdir / f"upstream-{latency}ms"
    workdir.mkdir()
    standin = start_standin(workdir, latency)
    try:
        direct = {
            False: direct_load(standin.url, stream=False),
            True: direct_load(standin.url, stream=True),
        }
        for target in start_targets(args.targets, standin, workdir, args):
            cases = [case for case in args.cases if case in target.loads]
            for case in cases:
                load = target.loads[case]
                drive(
                    load, connections=8, duration=WARMUP_SECONDS, workdir=args.workdir
                )
                for connections in args.connections:
                    yield measure_case(
                        target,
                        case,
                        direct[load.stream],
                        latency=latency,
                        connections=connections,
                        args=args,
                    )
    finally:
        standin.stop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=12, help="seconds per run")
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 32, 64])
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[0, 100])
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--server", choices=sorted(SERVERS), default="uvicorn")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also run LiteLLM and Portkey, installed into a cache folder",
    )
    parser.add_argument("--competitors-dir", type=Path, default=None)
    parser.add_argument("--json-out", type=Path, help="write every row as JSON here")
    args = parser.parse_args()
    args.targets = ["tokensgate", *(competitors.COMPETITORS if args.compare else [])]
    return args


def main() -> None:
    args = parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        args.workdir = Path(tmp)
        for latency in args.latency_ms:
            for row in run_latency(latency, args):
                rows.append(row)
                print(json.dumps(row.as_dict()), flush=True)

    if args.json_out:
        args.json_out.write_text(json.dumps([row.as_dict() for row in rows], indent=1))
    print(report.markdown(rows, args))


if __name__ == "__main__":
    main()
