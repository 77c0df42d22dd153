"""Gateways for the security tests: under daphne or uvicorn, with custom env."""

from __future__ import annotations

from pathlib import Path

from tests.live import PYTHON, LiveGateway, free_port, manage

SERVER_COMMANDS = {
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
        "--no-access-log",
        "tokensgate_site.asgi:application",
    ],
}


def start_gateway_on(
    server: str, tmp_dir: Path, env: dict[str, str], *, name: str = "gateway"
) -> LiveGateway:
    """Like ``tests.live.start_gateway``, under the ASGI server named."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    manage("migrate", "-v0", env=env)
    port = free_port()
    command = [part.format(port=port) for part in SERVER_COMMANDS[server]]
    gateway = LiveGateway(
        name=name, command=command, port=port, log_path=tmp_dir / f"{name}.log", env=env
    )
    gateway.key = gateway.create_client(
        f"tests-{name}", "--rpm", "100000", "--tpm", "1000000000"
    )
    return gateway.start()
