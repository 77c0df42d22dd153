"""Shared fixtures: live servers for end-to-end tests.

``standin`` and ``ollama_standin`` are stand-in upstreams (Anthropic and
Ollama), ``live_gateway`` a gateway process pointed at them, ``redis_server`` a
real ``redis-server``. They are started once per session; tests reset the
stand-ins' faults and counters through ``standin.reset()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import (
    LiveGateway,
    ServerProcess,
    StandIn,
    gateway_env,
    start_gateway,
    start_postgres,
    start_redis,
    start_standin,
)


@pytest.fixture(scope="session")
def live_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("live")


@pytest.fixture(scope="session")
def standin(live_dir: Path) -> Iterator[StandIn]:
    server = start_standin(live_dir, "standin-anthropic")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ollama_standin(live_dir: Path) -> Iterator[StandIn]:
    server = start_standin(live_dir, "standin-ollama")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_gateway(live_dir: Path, standin: StandIn, ollama_standin: StandIn) -> Iterator[LiveGateway]:
    env = gateway_env(
        live_dir / "gateway", anthropic_url=standin.url, ollama_url=ollama_standin.url
    )
    server = start_gateway(live_dir / "gateway", env)
    yield server
    server.stop()


@pytest.fixture
def upstreams(standin: StandIn, ollama_standin: StandIn) -> Iterator[tuple[StandIn, StandIn]]:
    """Both stand-ins, reset before and after the test."""
    standin.reset()
    ollama_standin.reset()
    yield standin, ollama_standin
    standin.reset()
    ollama_standin.reset()


@pytest.fixture(scope="session")
def redis_server(live_dir: Path) -> Iterator[ServerProcess]:
    server = start_redis(live_dir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server(live_dir: Path) -> Iterator[str]:
    """A private PostgreSQL cluster's DATABASE_URL (its ``postgres`` database).

    Tests that need a database of their own make one with
    ``tests.live.create_database(url, name)``.
    """
    server = start_postgres(live_dir)
    yield server.database_url()
    server.stop()
