"""Real server processes for the live tests: gateway, stand-in upstream, Redis.

Every server runs as a separate process on a free loopback port, started by the
tests themselves, so the suite needs nothing running beforehand. Output goes to
a log file per process, which tests read (e.g. to check that no secret was
logged) and which is printed when a process fails to start.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, timeout: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} within {timeout}s")


@dataclass
class ServerProcess:
    """A server command run in the background, restartable on the same port."""

    name: str
    command: list[str]
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    start_timeout: float = 30.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env={**os.environ, **self.env},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            wait_for_port(self.port, timeout=self.start_timeout, process=self.process)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{self.name}: {exc}\n{self.log_text()[-4000:]}") from None
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        os.killpg(self.process.pid, sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(timeout=5)

    def freeze(self) -> None:
        os.killpg(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class StandIn(ServerProcess):
    """The stand-in Anthropic / Ollama upstream, with its control API."""

    def control(self, method: str, path: str, payload: dict | None = None) -> dict:
        response = httpx.request(method, self.url + path, json=payload, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else {}

    def reset(self) -> None:
        self.control("POST", "/_control/reset", {})

    def faults(self, *faults: dict) -> None:
        self.control("POST", "/_control/faults", {"faults": list(faults)})

    def stats(self) -> dict:
        return self.control("GET", "/_control/stats")


def start_standin(tmp_dir: Path, name: str = "standin", *extra: str) -> StandIn:
    port = free_port()
    command = [
        PYTHON, "manage.py", "run_standin", "--host", "127.0.0.1", "--port", str(port),
        *extra,
    ]
    server = StandIn(name=name, command=command, port=port, log_path=tmp_dir / f"{name}.log")
    return server.start()


def manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env={**os.environ, **env},
        capture_output=True, text=True, timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


@dataclass
class LiveGateway(ServerProcess):
    """A gateway process with its own SQLite database and a client key."""

    key: str = ""

    def create_client(self, name: str, *args: str) -> str:
        output = manage("create_client", name, *args, env=self.env)
        return output.strip().splitlines()[-1]

    def manage(self, *args: str) -> str:
        return manage(*args, env=self.env)


def gateway_env(tmp_dir: Path, *, anthropic_url: str, ollama_url: str, **extra: str) -> dict:
    env = {
        "DJANGO_SETTINGS_MODULE": "tokensgate_site.settings",
        "SQLITE_PATH": str(tmp_dir / "gateway.sqlite3"),
        "CLAUDE_API_KEY": "sk-ant-standin-upstream-secret-0123456789",
        "ANTHROPIC_BASE_URL": anthropic_url,
        "OLLAMA_BASE_URL": ollama_url,
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "ENVIRONMENT": "test",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def start_gateway(tmp_dir: Path, env: dict[str, str], name: str = "gateway",
                  *, migrate: bool = True) -> LiveGateway:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    if migrate:
        manage("migrate", "-v0", env=env)
    port = free_port()
    command = [
        PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
        "tokensgate_site.asgi:application",
    ]
    server = LiveGateway(
        name=name, command=command, port=port, log_path=tmp_dir / f"{name}.log", env=env
    )
    server.key = server.create_client(f"tests-{name}", "--rpm", "100000", "--tpm", "1000000000")
    return server.start()


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if path is None:
        raise RuntimeError(f"{name} is not installed: install the Debian package {package}")
    return path


def start_redis(tmp_dir: Path, name: str = "redis") -> ServerProcess:
    binary = require_binary("redis-server", "redis-server")
    port = free_port()
    command = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--dir", str(tmp_dir),
    ]
    server = ServerProcess(name=name, command=command, port=port, log_path=tmp_dir / f"{name}.log")
    return server.start()
