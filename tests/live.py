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
                  *, migrate: bool = True, key: str | None = None) -> LiveGateway:
    """Start a gateway; ``key`` reuses a client (replicas sharing one database)."""
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
    server.key = key or server.create_client(
        f"tests-{name}", "--rpm", "100000", "--tpm", "1000000000"
    )
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


# PostgreSQL: a throwaway cluster per test session, from Debian's binaries.
# initdb refuses to run as root (CI runs as root), so the cluster belongs to an
# unprivileged user: the ``postgres`` user the Debian package creates, or one
# made for the tests. The data and socket directory live in their own temp
# directory that user owns, since pytest's temp dirs are private to root.
PG_TEST_USER = "tokensgate-test"


@dataclass
class PostgresServer(ServerProcess):
    """A private PostgreSQL cluster; ``stop`` shuts it down fast and deletes it."""

    data_root: Path | None = None

    def database_url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> int | None:
        # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every
        # client (idle gateway connections included) to disconnect.
        code = super().stop(sig, timeout)
        if self.data_root is not None:
            shutil.rmtree(self.data_root, ignore_errors=True)
        return code


def create_database(database_url: str, name: str) -> str:
    """Create an empty database on the server of ``database_url``; its URL."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url.rsplit("/", 1)[0] + "/" + name


def postgres_bin_dir() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise RuntimeError("PostgreSQL is not installed: install the Debian package postgresql")
    return found[-1].parent


def unprivileged_prefix() -> tuple[list[str], int | None, int | None]:
    """How to run a command as a non-root user: (prefix, uid, gid)."""
    if os.geteuid() != 0:
        return [], None, None

    import pwd

    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        user = _test_user()
    prefix = [
        require_binary("setpriv", "util-linux"),
        f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--",
    ]
    return prefix, user.pw_uid, user.pw_gid


def _test_user():
    import pwd

    try:
        return pwd.getpwnam(PG_TEST_USER)
    except KeyError:
        subprocess.run(
            [require_binary("useradd", "passwd"), "--system", "--no-create-home",
             "--shell", "/usr/sbin/nologin", PG_TEST_USER],
            check=True, capture_output=True,
        )
        return pwd.getpwnam(PG_TEST_USER)


def start_postgres(tmp_dir: Path, name: str = "postgres") -> PostgresServer:
    """Initialise and start a cluster on a free port with trust authentication."""
    import tempfile

    bin_dir = postgres_bin_dir()
    prefix, uid, gid = unprivileged_prefix()
    data_root = Path(tempfile.mkdtemp(prefix="tokensgate-pg-"))
    if uid is not None:
        os.chown(data_root, uid, gid)
    data = data_root / "data"

    init = subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(data), "--username=postgres",
         "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if init.returncode != 0:
        shutil.rmtree(data_root, ignore_errors=True)
        raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")

    port = free_port()
    command = [
        *prefix, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
        "-k", str(data_root), "-c", "listen_addresses=127.0.0.1",
        "-c", "max_connections=300", "-c", "fsync=off",
        "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
    ]
    server = PostgresServer(
        name=name, command=command, port=port, log_path=tmp_dir / f"{name}.log",
        data_root=data_root,
    )
    server.start()
    _wait_for_postgres(server)
    return server


def _wait_for_postgres(server: PostgresServer, timeout: float = 30.0) -> None:
    """The port opens before the cluster accepts logins; wait for a real one."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(server.database_url(), connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"postgres did not accept logins:\n{server.log_text()}")
            time.sleep(0.1)
