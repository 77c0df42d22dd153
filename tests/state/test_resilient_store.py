"""The breaker around Redis: one failure switches the process, a probe ends it.

The shared stores here are fakes that fail on demand, and the guard's clock
and probe are injected, so no test waits or needs a server. Two tests use a
real ``RedisBackend`` pointed at a closed port, to show that the guard's pool
refuses without connecting once the guard is open.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.state.backend import RedisBackend, StoreUnavailable
from gateway.state.limits_fallback import FallbackLimitStore
from gateway.state.redis_guard import RedisBypassed, RedisGuard
from gateway.state.resilient import (
    ERROR,
    NOT_CONFIGURED,
    GuardedStore,
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


def guarded(shared: object, guard: RedisGuard) -> GuardedStore:
    return GuardedStore("test", shared, guard, timeout=1.0)


async def test_calls_go_to_the_shared_store_while_redis_answers(guard):
    store = guarded(FlakyStore(), guard)

    assert await store.get("k") == "shared:k"
    assert not guard.is_open
    assert guard.fallbacks == 0


async def test_a_redis_failure_opens_the_guard_and_reaches_the_caller(guard):
    shared = FlakyStore()
    shared.down = True
    store = guarded(shared, guard)

    with pytest.raises(StoreUnavailable):
        await store.get("k")
    assert guard.is_open
    assert guard.fallbacks == 1


async def test_only_the_first_failure_of_an_outage_counts_as_a_fallback(guard):
    shared = FlakyStore()
    shared.down = True
    store = guarded(shared, guard)

    for _ in range(5):
        with pytest.raises(StoreUnavailable):
            await store.get("k")

    assert guard.fallbacks == 1


async def test_plain_attributes_and_methods_are_the_shared_stores(guard):
    store = guarded(FlakyStore(), guard)

    assert store.window_seconds == 60.0
    assert store.describe() == "flaky"
    with pytest.raises(AttributeError):
        _ = store._private


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


async def test_after_recovery_calls_go_to_the_shared_store_again(guard, clock, probe):
    shared = FlakyStore()
    store = guarded(shared, guard)
    shared.down = True
    with pytest.raises(StoreUnavailable):
        await store.get("k")

    shared.down = False
    clock.now += 2.0
    probe.answers = True
    guard.allows()
    await guard._probing

    assert await store.get("k") == "shared:k"
    assert guard.fallbacks == 1


class PooledStore:
    """A fake that, like the Redis stores, asks the guard's pool first."""

    def __init__(self, guard: RedisGuard) -> None:
        self.guard = guard
        self.failure: type[Exception] | None = None
        self.tried = 0

    async def get(self, key: str) -> str:
        if not self.guard.allows():
            raise StoreUnavailable("bypassed") from RedisBypassed("bypassed")
        self.tried += 1
        if self.failure is not None:
            raise StoreUnavailable("failed") from self.failure()
        return key


def timed_out() -> StoreUnavailable:
    exc = StoreUnavailable("timed out")
    exc.__cause__ = RedisTimeoutError("Timeout reading from socket")
    return exc


class ConfirmationWindow:
    """The guard's sleep: ends when the test says the window is over."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.over = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        await self.over.wait()
        self.clock.now += seconds


@pytest.fixture
def window(clock: FakeClock) -> ConfirmationWindow:
    return ConfirmationWindow(clock)


@pytest.fixture
def confirming_guard(
    clock: FakeClock, probe: ProbeResult, window: ConfirmationWindow
) -> RedisGuard:
    return RedisGuard(probe=probe, cooldown_seconds=2.0, clock=clock, sleep=window)


async def end_confirmation(guard: RedisGuard, window: ConfirmationWindow) -> None:
    window.over.set()
    await guard._confirming


async def in_own_request(coroutine):
    """Run a coroutine as its own task, as each request is."""
    return await asyncio.create_task(coroutine, context=contextvars.Context())


async def test_a_request_that_saw_redis_fail_does_not_try_it_again(
    confirming_guard, probe, window
):
    probe.answers = True
    store = guarded(PooledStore(confirming_guard), confirming_guard)
    store.shared.failure = RedisTimeoutError

    async def request() -> list[bool]:
        outcomes = []
        for _ in range(3):
            try:
                await store.get("k")
                outcomes.append(True)
            except StoreUnavailable:
                outcomes.append(False)
        return outcomes

    assert await in_own_request(request()) == [False, False, False]
    assert store.shared.tried == 1
    await in_own_request(request())
    assert store.shared.tried == 2, "another request tries Redis itself"
    await end_confirmation(confirming_guard, window)


async def test_a_connection_error_opens_the_guard_at_once(confirming_guard):
    store = guarded(PooledStore(confirming_guard), confirming_guard)
    store.shared.failure = RedisConnectionError

    with pytest.raises(StoreUnavailable):
        await store.get("k")

    assert confirming_guard.is_open


async def test_a_timeout_opens_the_guard_once_a_probe_confirms_it(
    confirming_guard, probe, window
):
    confirming_guard.failed("limits", timed_out())
    await asyncio.sleep(0)
    assert not confirming_guard.is_open

    await end_confirmation(confirming_guard, window)

    assert confirming_guard.is_open
    assert confirming_guard.fallbacks == 1


async def test_a_timeout_while_calls_still_succeed_keeps_shared_state(
    confirming_guard, probe, window
):
    probe.answers = True
    store = guarded(PooledStore(confirming_guard), confirming_guard)
    store.shared.failure = RedisTimeoutError
    for _ in range(3):  # A stall times out several calls at once...
        with pytest.raises(StoreUnavailable):
            await in_own_request(store.get("k"))
    store.shared.failure = None
    await in_own_request(store.get("k"))  # ...but calls get answers meanwhile.

    await end_confirmation(confirming_guard, window)

    assert not confirming_guard.is_open
    assert confirming_guard.fallbacks == 0


async def test_redis_too_slow_for_any_call_opens_the_guard_though_it_pings(
    confirming_guard, probe, window
):
    probe.answers = True
    store = guarded(PooledStore(confirming_guard), confirming_guard)
    store.shared.failure = RedisTimeoutError

    for _ in range(3):
        with pytest.raises(StoreUnavailable):
            await in_own_request(store.get("k"))
    await end_confirmation(confirming_guard, window)

    assert confirming_guard.is_open


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


async def test_build_state_store_guards_every_redis_concern(settings):
    settings.TOKENSGATE = {**settings.TOKENSGATE, "EXPECTED_REPLICAS": 3}
    store = build_state_store("redis://127.0.0.1:1/0")
    try:
        concerns = [store.limits.shared, store.breakers, store.cache, store.counters]
        assert all(isinstance(c, GuardedStore) for c in concerns)
        assert {c.guard for c in concerns} == {store.backend.guard}
        assert isinstance(store.limits, FallbackLimitStore)
        assert store.limits.local.replicas == 3
    finally:
        await store.aclose()


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
