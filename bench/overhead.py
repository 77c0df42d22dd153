"""Gateway overhead: the same load through the gateway and directly, same run.

Starts the stand-in upstream and one gateway process, pins them to separate
cores where ``taskset`` exists (stand-in and load generator on core 0, gateway on
core 1), drives both with ``wrk`` (Debian package ``wrk``), and prints a table of
requests per second, p50 / p99 latency and the latency the gateway adds. Each
scenario is repeated ``--repeat`` times and reported as the median with its
spread.

    .venv/bin/python bench/overhead.py --duration 12 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live import (  # noqa: E402 - the bench reuses the tests' process helpers
    PYTHON,
    LiveGateway,
    StandIn,
    free_port,
    gateway_env,
    start_gateway,
)

PROMPT = "Summarise the benefits of an API gateway in one paragraph."

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [[%(body)s]]
%(headers)s
"""


@dataclass
class Scenario:
    name: str
    url: str
    body: dict
    headers: dict[str, str]


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def pinned(command: list[str], core: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core), *command]
    return command


def run_wrk(
    scenario: Scenario, *, connections: int, duration: int, workdir: Path
) -> Result:
    headers = "\n".join(
        f'wrk.headers["{name}"] = "{value}"' for name, value in scenario.headers.items()
    )
    script = workdir / f"{scenario.name}.lua"
    script.write_text(
        WRK_SCRIPT % {"body": json.dumps(scenario.body), "headers": headers}
    )
    command = pinned(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            scenario.url,
        ],
        core=0,
    )
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return parse_wrk(output)


def _duration_ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise RuntimeError(f"cannot read a wrk duration from {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(output: str) -> Result:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _duration_ms(re.search(r"50%\s+(\S+)", output).group(1))
    p99 = _duration_ms(re.search(r"99%\s+(\S+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Result(rps, p50, p99, int(errors.group(1)) if errors else 0)


def scenarios(
    gateway: LiveGateway, standin: StandIn
) -> list[tuple[Scenario, Scenario]]:
    """Pairs of (through the gateway, directly to the stand-in) for the same work."""
    messages = [{"role": "user", "content": PROMPT}]
    anthropic_body = {
        "model": "claude-haiku-4-5-20251001",
        "max_tokens": 256,
        "messages": messages,
    }
    anthropic_headers = {
        "Content-Type": "application/json",
        "anthropic-version": "2023-06-01",
    }
    direct = Scenario(
        "direct",
        standin.url + "/v1/messages",
        anthropic_body,
        {**anthropic_headers, "x-api-key": "bench"},
    )
    openai_body = {
        "model": "claude-haiku-4-5-20251001",
        "max_tokens": 256,
        "messages": messages,
    }
    openai_headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {gateway.key}",
    }
    # wrk repeats one body, so without no-store every request after the first
    # would be a response-cache hit; the miss path is the one that matters.
    miss = Scenario(
        "openai",
        gateway.url + "/v1/chat/completions",
        openai_body,
        {**openai_headers, "Cache-Control": "no-store"},
    )
    hit = Scenario(
        "openai-cache-hit",
        gateway.url + "/v1/chat/completions",
        openai_body,
        openai_headers,
    )
    native = Scenario(
        "anthropic",
        gateway.url + "/v1/messages",
        anthropic_body,
        {**anthropic_headers, "x-api-key": gateway.key, "Cache-Control": "no-store"},
    )
    return [(miss, direct), (hit, direct), (native, direct)]


def measure(
    pair, *, connections: int, duration: int, repeat: int, workdir: Path
) -> dict:
    through, direct = pair
    runs = []
    for _ in range(repeat):
        gateway_result = run_wrk(
            through, connections=connections, duration=duration, workdir=workdir
        )
        direct_result = run_wrk(
            direct, connections=connections, duration=duration, workdir=workdir
        )
        runs.append((gateway_result, direct_result))
    return summarise(runs)


def _median_spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} (±{(max(values) - min(values)) / 2:.2f})"


def summarise(runs: list[tuple[Result, Result]]) -> dict:
    return {
        "gateway_rps": _median_spread([g.rps for g, _ in runs]),
        "direct_rps": _median_spread([d.rps for _, d in runs]),
        "gateway_p50_ms": _median_spread([g.p50_ms for g, _ in runs]),
        "direct_p50_ms": _median_spread([d.p50_ms for _, d in runs]),
        "added_p50_ms": _median_spread([g.p50_ms - d.p50_ms for g, d in runs]),
        "added_p99_ms": _median_spread([g.p99_ms - d.p99_ms for g, d in runs]),
        "errors": sum(g.errors for g, _ in runs),
    }


SERVERS = {
    "daphne": [
        PYTHON,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        "{port}",
        "tokensgate_site.asgi:application",
    ],
    "uvicorn": [
        PYTHON,
        "-m",
        "uvicorn",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
        "tokensgate_site.asgi:application",
    ],
    # asginl: ASGI without the lifespan protocol, which Django does not speak.
    "granian": [
        str(Path(PYTHON).parent / "granian"),
        "--interface",
        "asginl",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--loop",
        "uvloop",
        "--no-access-log",
        "--log-level",
        "warning",
        "tokensgate_site.asgi:application",
    ],
}


def start_servers(
    workdir: Path, latency_ms: int, server: str
) -> tuple[StandIn, LiveGateway]:
    port = free_port()
    command = pinned(
        [
            PYTHON,
            "manage.py",
            "run_standin",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
            "--reply-tokens",
            "64",
        ],
        core=0,
    )
    standin = StandIn(
        name="standin", command=command, port=port, log_path=workdir / "standin.log"
    ).start()
    env = gateway_env(
        workdir, anthropic_url=standin.url, ollama_url=standin.url, LOG_LEVEL="WARNING"
    )
    gateway = start_gateway(workdir, env)
    gateway.stop()
    command = [part.replace("{port}", str(gateway.port)) for part in SERVERS[server]]
    gateway.command = pinned(command, core=1)
    return standin, gateway.start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[0])
    parser.add_argument("--server", choices=sorted(SERVERS), default="daphne")
    args = parser.parse_args()

    for latency in args.latency_ms:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            standin, gateway = start_servers(workdir, latency, args.server)
            try:
                for pair in scenarios(gateway, standin):
                    run_wrk(pair[0], connections=8, duration=3, workdir=workdir)
                    for connections in args.connections:
                        row = measure(
                            pair,
                            connections=connections,
                            duration=args.duration,
                            repeat=args.repeat,
                            workdir=workdir,
                        )
                        print(
                            json.dumps(
                                {
                                    "server": args.server,
                                    "surface": pair[0].name,
                                    "upstream_latency_ms": latency,
                                    "connections": connections,
                                    **row,
                                }
                            ),
                            flush=True,
                        )
            finally:
                gateway.stop()
                standin.stop()


if __name__ == "__main__":
    main()
