"""A gateway under load while its Redis is killed, restarted, frozen and thawed.

The gateway runs on a ``redis-server`` of this module's own, so killing it
disturbs no other test. Traffic flows throughout; the tests look at what the
clients saw before, during and after each fault: no 5xx and no broken stream,
no request slower than the slowest normal one by more than the Redis timeout
(plus a margin for this shared machine), ``/health`` saying degraded, and
shared state in use again once Redis is back, without a gateway restart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.chaos.load import Load, failures, percentile
from tests.live import (
    LiveGateway,
    ServerProcess,
    StandIn,
    gateway_env,
    start_gateway,
    start_redis,
)

pytestmark = pytest.mark.live

REDIS_TIMEOUT = 0.1
COOLDOWN = 0.5
# Scheduling noise on a shared 2-core machine running gateway, stand-in and
# load generator at once; the bound being tested is REDIS_TIMEOUT above the
# normal worst case, and this margin keeps unrelated hiccups from failing it.
MARGIN = 0.25
WARM_UP = 1.5
FAULT = 3.0


@pytest.fixture(scope="module")
def chaos_redis(live_dir: Path) -> Iterator[ServerProcess]:
    server = start_redis(live_dir, "chaos-redis")
    yield server
    server.thaw()
    server.stop()


@pytest.fixture(scope="module")
def gateway(
    live_dir: Path, standin: StandIn, ollama_standin: StandIn, chaos_redis
) -> Iterator[LiveGateway]:
    folder = live_dir / "chaos"
    env = gateway_env(
        folder,
        anthropic_url=standin.url,
        ollama_url=ollama_standin.url,
        REDIS_URL=f"redis://127.0.0.1:{chaos_redis.port}/0",
        REDIS_COOLDOWN_SECONDS=str(COOLDOWN),
        EXPECTED_REPLICAS="3",
    )
    server = start_gateway(folder, env, name="chaos-gateway")
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def healthy(gateway: LiveGateway, chaos_redis: ServerProcess, upstreams) -> None:
    """Each test starts with Redis running and the gateway using it."""
    if chaos_redis.process is None or chaos_redis.process.poll() is not None:
        chaos_redis.start()
    chaos_redis.thaw()
    wait_for_health(gateway, "ok")


def health(gateway: LiveGateway) -> dict:
    return httpx.get(gateway.url + "/health", timeout=5).json()


def wait_for_health(gateway: LiveGateway, status: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = health(gateway)
        if body["status"] == status or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def run_fault(gateway: LiveGateway, inject, heal) -> tuple[Load, float, float, dict]:
    """Load before, during and after a fault; returns the fault's time span."""
    with Load([gateway.url], gateway.key) as load:
        time.sleep(WARM_UP)
        fault_start = time.monotonic()
        inject()
        time.sleep(FAULT / 2)
        during = health(gateway)
        time.sleep(FAULT / 2)
        fault_end = time.monotonic()
        heal()
        time.sleep(WARM_UP)
    return load, fault_start, fault_end, during


def slowest_allowed(load: Load, fault_start: float) -> float:
    normal = [o.seconds for o in load.between(0, fault_start)]
    assert len(normal) >= 10, "too little traffic before the fault to compare with"
    return percentile(normal, 0.99) + REDIS_TIMEOUT + MARGIN


def too_slow(load: Load, fault_start: float, fault_end: float) -> list[str]:
    """Requests made during the fault that took longer than allowed, described."""
    bound = slowest_allowed(load, fault_start)
    return [
        f"{'stream' if o.stream else 'request'} at +{o.started - fault_start:.2f}s "
        f"took {o.seconds:.3f}s (allowed {bound:.3f}s)"
        for o in load.between(fault_start, fault_end)
        if o.seconds > bound
    ]


def redis_keys(server: ServerProcess) -> list[bytes]:
    return redis.Redis(port=server.port, socket_timeout=2).keys("tg:*")


def test_killing_redis_under_load_fails_no_request(gateway, chaos_redis):
    load, start, end, during = run_fault(
        gateway, chaos_redis.stop, chaos_redis.start
    )

    assert failures(load.outcomes) == []
    assert len(load.between(start, end)) >= 20
    assert too_slow(load, start, end) == []
    assert during["status"] == "degraded"
    assert during["state_store"]["redis"] == "error"


def test_a_restarted_redis_is_used_again_without_a_gateway_restart(
    gateway, chaos_redis
):
    chaos_redis.stop()
    assert wait_for_health(gateway, "degraded")["state_store"]["redis"] == "error"

    chaos_redis.start()
    recovered = wait_for_health(gateway, "ok")
    with Load([gateway.url], gateway.key, threads=1, streaming_threads=0) as load:
        time.sleep(0.5)

    assert recovered["state_store"]["redis"] == "ok"
    assert failures(load.outcomes) == []
    # The restarted server started empty: keys in it were written since.
    assert any(b":limits:" in name for name in redis_keys(chaos_redis))


def test_freezing_redis_under_load_makes_no_request_wait_past_its_timeout(
    gateway, chaos_redis
):
    load, start, end, during = run_fault(
        gateway, chaos_redis.freeze, chaos_redis.thaw
    )

    assert failures(load.outcomes) == []
    assert len(load.between(start, end)) >= 20
    assert too_slow(load, start, end) == []
    assert during["status"] == "degraded"


def test_a_thawed_redis_is_used_again_and_health_recovers(gateway, chaos_redis):
    chaos_redis.freeze()
    assert wait_for_health(gateway, "degraded")["status"] == "degraded"

    chaos_redis.thaw()
    recovered = wait_for_health(gateway, "ok")
    # Emptied, so any key found afterwards was written since the thaw.
    client = redis.Redis(port=chaos_redis.port, socket_timeout=2)
    client.flushall()
    with Load([gateway.url], gateway.key, threads=1, streaming_threads=0) as load:
        time.sleep(0.5)

    assert recovered["status"] == "ok"
    assert failures(load.outcomes) == []
    assert any(b":limits:" in name for name in client.keys("tg:*"))
