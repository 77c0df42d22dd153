"""The processes a benchmark measures, and what they cost the machine.

The stand-in upstream and the load generators share core 0; the server under
test gets core 1 to itself, where ``taskset`` exists and the machine has two
cores. CPU time and memory are read from ``/proc`` for the server's own PID.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.live import (  # noqa: E402 - the benches reuse the tests' process helpers
    PYTHON,
    LiveGateway,
    StandIn,
    free_port,
    gateway_env,
    start_gateway,
)

LOAD_CORE = 0
SERVER_CORE = 1
REPLY_TOKENS = 64
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

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


def pinned(command: list[str], core: int | None) -> list[str]:
    """``command`` run on one core, where the machine has more than one."""
    if core is None or shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return command
    return ["taskset", "-c", str(core), *command]


def start_standin(workdir: Path, latency_ms: int) -> StandIn:
    port = free_port()
    command = [
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
        str(REPLY_TOKENS),
    ]
    return StandIn(
        name="standin",
        command=pinned(command, LOAD_CORE),
        port=port,
        log_path=workdir / "standin.log",
    ).start()


def start_tokensgate(
    workdir: Path, standin: StandIn, server: str, **env: str
) -> LiveGateway:
    """One gateway process under ``server``, every feature on, a client key made."""
    settings = gateway_env(
        workdir,
        anthropic_url=standin.url,
        ollama_url=standin.url,
        LOG_LEVEL="WARNING",
        **env,
    )
    # start_gateway migrates and creates the key under daphne; the measured
    # process is then started again under the chosen server.
    gateway = start_gateway(workdir, settings)
    gateway.stop()
    command = [part.replace("{port}", str(gateway.port)) for part in SERVERS[server]]
    gateway.command = pinned(command, SERVER_CORE)
    return gateway.start()


def start_servers(
    workdir: Path, latency_ms: int, server: str, **env: str
) -> tuple[StandIn, LiveGateway]:
    standin = start_standin(workdir, latency_ms)
    return standin, start_tokensgate(workdir, standin, server, **env)


@dataclass(frozen=True)
class ProcessUsage:
    cpu_seconds: float
    rss_kb: int
    peak_rss_kb: int


def process_usage(pid: int) -> ProcessUsage:
    """CPU time so far (user + system) and memory of one process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    memory: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            memory[name] = int(value.split()[0])
    return ProcessUsage(cpu, memory["VmRSS"], memory["VmHWM"])
