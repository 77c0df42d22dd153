"""The breaker around Redis and the per-process stand-ins behind it.

The shared stores here are fakes that fail on demand, and the guard's clock
and probe are injected, so no test waits or needs a server. One test uses a
real ``RedisBackend`` pointed at a closed port, to show that the guard's pool
refuses without connecting once the guard is open.
"""

from __future__ import annotations

import socket

import pytest

from gateway.state.backend import MemoryBackend, RedisBackend, StoreUnavailable
from gateway.state.breaker_store import MemoryBreakerStore
from gateway.state.limits_store import LimitPolicy, MemoryLimitStore, Reservation
from gateway.state.redis_guard import RedisBypassed, RedisGuard
from gateway.state.resilient import (
    ERROR,
    NOT_CONFIGURED,
    ProcessLimitStore,
    ResilientStore,
    process_share,
    redis_fallbacks,
    redis_status,
)
from gateway.state.store import build_state_store


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FlakyStore:
    """A shared store whose calls fail while ``down`` is set."""

    window_seconds = 60.0

    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    async def get(self, key: str) -> str:
        self.calls += 1
        if self.down:
            raise StoreUnavailable("connection refused") from ConnectionError()
        return f"shared:{key}"

    def describe(self) -> str:
        return "flaky"


class EchoStore:
    async def get(self, key: str) -> str:
        return f"local:{key}"


class ProbeResult:
    def __init__(self) -> None:
        self.answers = False
        self.count = 0

    async def __call__(self) -> bool:
        self.count += 1
        return self.answers


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def probe() -> ProbeResult:
    return ProbeResult()


@pytest.fixture
def guard(clock: FakeClock, probe: ProbeResult) -> RedisGuard:
    return RedisGuard(probe=probe, cooldown_seconds=2.0, clock=clock)


def resilient(shared: object, guard: RedisGuard, fallback=lambda shared: EchoStore()):
    return ResilientStore("test", shared, guard, fallback=fallback)


async def test_calls_go_to_the_shared_store_while_redis_answers(guard):
    store = resilient(FlakyStore(), guard)

    assert await store.get("k") == "shared:k"
    assert not guard.is_open
    assert guard.fallbacks == 0


async def test_a_redis_failure_answers_from_the_process_store(guard):
    shared = FlakyStore()
    shared.down = True
    store = resilient(shared, guard)

    assert await store.get("k") == "local:k"
    assert guard.is_open
    assert guard.fallbacks == 1


async def test_the_process_store_is_built_once_and_kept(guard):
    shared = FlakyStore()
    shared.down = True
    built = []
    store = resilient(shared, guard, fallback=lambda s: built.append(s) or EchoStore())

    await store.get("a")
    await store.get("b")

    assert built == [shared]


async def test_only_the_first_failure_of_an_outage_counts_as_a_fallback(guard):
    shared = FlakyStore()
    shared.down = True
    store = resilient(shared, guard)

    for _ in range(5):
        await store.get("k")

    assert guard.fallbacks == 1


async def test_a_concern_without_a_stand_in_reports_and_reraises(guard):
    shared = FlakyStore()
    shared.down = True
    store = resilient(shared, guard, fallback=None)

    with pytest.raises(StoreUnavailable):
        await store.get("k")
    assert guard.is_open


async def test_plain_attributes_and_methods_are_the_shared_stores(guard):
    store = resilient(FlakyStore(), guard)

    assert store.window_seconds == 60.0
    assert store.describe() == "flaky"
    with pytest.raises(AttributeError):
        store._private


async def test_a_bypassed_call_does_not_reopen_a_guard_a_probe_closed(guard):
    bypassed = StoreUnavailable("bypassed")
    bypassed.__cause__ = RedisBypassed("bypassed")

    guard.failed("test", bypassed)

    assert not guard.is_open
    assert guard.fallbacks == 0


async def test_no_probe_before_the_cooldown_has_passed(guard, clock, probe):
    guard.failed("test", StoreUnavailable("down"))
    clock.now += 1.9

    assert not guard.allows()
    assert guard._probing is None


async def test_a_probe_that_gets_an_answer_closes_the_guard(guard, clock, probe):
    guard.failed("test", StoreUnavailable("down"))
    clock.now += 2.0
    probe.answers = True

    assert not guard.allows()
    await guard._probing

    assert guard.allows()
    assert probe.count == 1


async def test_one_probe_at_a_time(guard, clock, probe):
    guard.failed("test", StoreUnavailable("down"))
    clock.now += 2.0

    guard.allows()
    guard.allows()
    await guard._probing

    assert probe.count == 1


async def test_a_failed_probe_waits_another_cooldown(guard, clock, probe):
    guard.failed("test", StoreUnavailable("down"))
    clock.now += 2.0
    guard.allows()
    await guard._probing

    clock.now += 1.0
    assert not guard.allows()
    assert probe.count == 1

    clock.now += 1.0
    probe.answers = True
    guard.allows()
    await guard._probing
    assert guard.allows()
    assert probe.count == 2


async def test_recovered_calls_go_to_the_shared_store_again(guard, clock, probe):
    shared = FlakyStore()
    store = resilient(shared, guard)
    shared.down = True
    await store.get("k")

    shared.down = False
    clock.now += 2.0
    probe.answers = True
    guard.allows()
    await guard._probing

    assert await store.get("k") == "shared:k"
    assert guard.fallbacks == 1


def test_each_process_enforces_its_share_of_the_limits():
    policy = LimitPolicy(
        requests_per_minute=10,
        tokens_per_minute=9000,
        max_concurrent=4,
        daily_budget_nanos=3_000,
        monthly_budget_nanos=None,
    )

    share = process_share(policy, 3)

    assert share == LimitPolicy(
        requests_per_minute=3,
        tokens_per_minute=3000,
        max_concurrent=1,
        daily_budget_nanos=1_000,
        monthly_budget_nanos=None,
    )


def test_a_share_never_rounds_down_to_unlimited():
    policy = LimitPolicy(requests_per_minute=2, tokens_per_minute=0, max_concurrent=1)

    share = process_share(policy, 5)

    assert share.requests_per_minute == 1
    assert share.tokens_per_minute == 0
    assert share.max_concurrent == 1


def test_a_zero_budget_still_allows_nothing():
    policy = LimitPolicy(daily_budget_nanos=0)

    assert process_share(policy, 3).daily_budget_nanos == 0


async def test_the_limits_stand_in_admits_the_process_share():
    store = ProcessLimitStore(MemoryBackend(), replicas=3, window_seconds=60.0)
    policy = LimitPolicy(requests_per_minute=9)

    admitted = [
        (await store.admit(7, policy, Reservation(id=str(i), tokens=1, cost_nanos=0)))
        .admitted
        for i in range(5)
    ]

    assert admitted == [True, True, True, False, False]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_the_guard_pool_refuses_without_connecting_once_open():
    backend = RedisBackend(f"redis://127.0.0.1:{_closed_port()}/0")
    try:
        assert not await backend.ping()
        assert backend.guard.is_open

        with pytest.raises(RedisBypassed):
            await backend.client.get("k")
    finally:
        await backend.aclose()


async def test_build_state_store_wraps_every_redis_concern():
    store = build_state_store("redis://127.0.0.1:1/0")
    raw = build_state_store("redis://127.0.0.1:1/0", fallbacks=False)
    try:
        concerns = [store.limits, store.breakers, store.cache, store.counters]
        assert all(isinstance(c, ResilientStore) for c in concerns)
        assert isinstance(store.breakers.fallback, MemoryBreakerStore)
        assert isinstance(store.limits.fallback, MemoryLimitStore)
        assert store.counters.fallback is None
        assert not isinstance(raw.limits, ResilientStore)
    finally:
        await store.aclose()
        await raw.aclose()


async def test_health_status_and_fallback_count_follow_the_guard():
    memory = build_state_store(None)
    store = build_state_store(f"redis://127.0.0.1:{_closed_port()}/0")
    try:
        assert await redis_status(memory) == NOT_CONFIGURED
        assert redis_fallbacks(memory) == 0

        assert await redis_status(store) == ERROR
        assert redis_fallbacks(store) == 1
    finally:
        await store.aclose()
