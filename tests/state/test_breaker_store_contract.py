"""One contract for both breaker stores: in-process and a real redis-server.

Time moves without sleeping: the memory store reads a fake clock, the Redis
store shifts the server's clock by ``clock_shift_ms``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from gateway.state.backend import MemoryBackend, RedisBackend
from gateway.state.breaker_store import (
    ALLOWED,
    CANARY,
    CLOSED,
    HALF_OPEN,
    OPEN,
    REJECTED,
    BreakerPolicy,
    BreakerStore,
    MemoryBreakerStore,
    RedisBreakerStore,
)

POLICY = BreakerPolicy(threshold=5, window_s=30, cooldown_s=60, lease_s=10)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    store: BreakerStore
    target: str
    clock: FakeClock | None = None

    def advance(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.now += seconds
        else:
            self.store.clock_shift_ms += round(seconds * 1000)

    async def fail(self, times: int = 1, token: str | None = None) -> str:
        state = ""
        for _ in range(times):
            transition = await self.store.record(
                self.target, failed=True, token=token, policy=POLICY
            )
            state = transition.state
        return state

    async def admit(self) -> tuple[str, str]:
        token = secrets.token_hex(4)
        admission = await self.store.admit(self.target, token, POLICY)
        return admission.decision, token

    async def trip(self) -> None:
        assert await self.fail(POLICY.threshold) == OPEN

    async def state(self) -> str:
        return (await self.store.snapshot(self.target, POLICY)).state


@pytest.fixture(params=["memory", "redis"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    target = "t" + secrets.token_hex(4)
    if request.param == "memory":
        clock = FakeClock()
        yield Harness(MemoryBreakerStore(MemoryBackend(clock=clock)), target, clock)
        return

    server = request.getfixturevalue("redis_server")
    backend = RedisBackend(f"redis://127.0.0.1:{server.port}/0", command_timeout=1.0)
    yield Harness(RedisBreakerStore(backend), target)
    await backend.aclose()


async def test_a_new_breaker_is_closed_and_lets_calls_through(harness):
    decision, _ = await harness.admit()
    snapshot = await harness.store.snapshot(harness.target, POLICY)

    assert decision == ALLOWED
    assert snapshot.as_dict() == {
        "state": CLOSED,
        "failures_in_window": 0,
        "cooldown_remaining_s": 0.0,
        "total_trips": 0,
    }


async def test_four_failures_in_the_window_stay_closed_and_the_fifth_opens(harness):
    assert await harness.fail(4) == CLOSED
    assert (
        await harness.store.snapshot(harness.target, POLICY)
    ).failures_in_window == 4

    assert await harness.fail() == OPEN
    snapshot = await harness.store.snapshot(harness.target, POLICY)
    assert snapshot.state == OPEN
    assert snapshot.total_trips == 1
    assert 59 <= snapshot.cooldown_remaining_s <= 60


async def test_failures_spread_wider_than_the_window_stay_closed(harness):
    for _ in range(10):
        assert await harness.fail() == CLOSED
        harness.advance(POLICY.window_s / 4 + 0.5)

    # Eight seconds apart, at most four failures ever share a 30 s window.
    snapshot = await harness.store.snapshot(harness.target, POLICY)
    assert snapshot.state == CLOSED
    assert snapshot.failures_in_window == 3
    assert snapshot.total_trips == 0


async def test_successes_do_not_move_a_closed_breaker(harness):
    await harness.fail(4)
    transition = await harness.store.record(
        harness.target, failed=False, token=None, policy=POLICY
    )

    assert transition.state == CLOSED and not transition.changed
    assert await harness.fail() == OPEN


async def test_no_call_passes_during_the_cooldown(harness):
    await harness.trip()

    for _ in range(5):
        admission = await harness.store.admit(harness.target, "x", POLICY)
        assert admission.decision == REJECTED
        assert admission.retry_after_s > 0
        harness.advance(POLICY.cooldown_s / 6)

    assert await harness.state() == OPEN


async def test_exactly_one_canary_goes_after_the_cooldown_under_concurrency(harness):
    await harness.trip()
    harness.advance(POLICY.cooldown_s + 1)
    assert await harness.state() == HALF_OPEN

    decisions = await asyncio.gather(*(harness.admit() for _ in range(25)))

    assert [d for d, _ in decisions].count(CANARY) == 1
    assert [d for d, _ in decisions].count(REJECTED) == 24


async def test_the_canary_success_closes_the_breaker(harness):
    await harness.trip()
    harness.advance(POLICY.cooldown_s + 1)
    decision, token = await harness.admit()

    transition = await harness.store.record(
        harness.target, failed=False, token=token, policy=POLICY
    )

    assert decision == CANARY
    assert (transition.previous, transition.state) == (HALF_OPEN, CLOSED)
    assert (await harness.admit())[0] == ALLOWED
    assert (
        await harness.store.snapshot(harness.target, POLICY)
    ).failures_in_window == 0


async def test_the_canary_failure_reopens_for_another_cooldown(harness):
    await harness.trip()
    harness.advance(POLICY.cooldown_s + 1)
    _, token = await harness.admit()

    assert await harness.fail(token=token) == OPEN
    snapshot = await harness.store.snapshot(harness.target, POLICY)
    assert snapshot.total_trips == 2
    assert snapshot.cooldown_remaining_s > POLICY.cooldown_s - 1
    assert (await harness.admit())[0] == REJECTED


async def test_a_hung_canary_loses_its_lease_when_it_expires(harness):
    await harness.trip()
    harness.advance(POLICY.cooldown_s + 1)
    _, hung = await harness.admit()
    harness.advance(POLICY.lease_s - 1)
    assert (await harness.admit())[0] == REJECTED

    harness.advance(2)
    decision, fresh = await harness.admit()
    assert decision == CANARY

    # The hung canary's late verdict no longer counts; the new canary's does.
    late = await harness.store.record(
        harness.target, failed=False, token=hung, policy=POLICY
    )
    assert late.state == HALF_OPEN
    done = await harness.store.record(
        harness.target, failed=False, token=fresh, policy=POLICY
    )
    assert done.state == CLOSED


async def test_a_released_lease_lets_the_next_caller_probe_at_once(harness):
    await harness.trip()
    harness.advance(POLICY.cooldown_s + 1)
    _, token = await harness.admit()

    await harness.store.release(harness.target, token)

    assert (await harness.admit())[0] == CANARY


async def test_late_reports_of_ordinary_calls_do_not_move_an_open_breaker(harness):
    await harness.trip()

    failed = await harness.store.record(
        harness.target, failed=True, token=None, policy=POLICY
    )
    succeeded = await harness.store.record(
        harness.target, failed=False, token=None, policy=POLICY
    )

    assert failed.state == OPEN and succeeded.state == OPEN
    assert (await harness.store.snapshot(harness.target, POLICY)).total_trips == 1


async def test_reset_closes_an_open_breaker_and_keeps_the_trip_count(harness):
    await harness.trip()

    transition = await harness.store.reset(harness.target)
    snapshot = await harness.store.snapshot(harness.target, POLICY)

    assert (transition.previous, transition.state) == (OPEN, CLOSED)
    assert snapshot.state == CLOSED and snapshot.total_trips == 1
    assert (await harness.admit())[0] == ALLOWED
    assert await harness.fail(4) == CLOSED


async def test_reset_of_a_closed_breaker_reports_no_change(harness):
    transition = await harness.store.reset(harness.target)

    assert not transition.changed


async def test_targets_are_independent(harness):
    await harness.trip()
    other = Harness(harness.store, harness.target + "-other", harness.clock)

    assert (await other.admit())[0] == ALLOWED


async def test_redis_keeps_one_hash_per_target_with_an_expiry(redis_server):
    backend = RedisBackend(
        f"redis://127.0.0.1:{redis_server.port}/0", command_timeout=1.0
    )
    store = RedisBreakerStore(backend)
    target = "t" + secrets.token_hex(4)
    try:
        await store.record(target, failed=True, token=None, policy=POLICY)
        key = "tg:{b:" + target + "}"
        kind = await backend.client.type(key)
        ttl = await backend.client.ttl(key)
    finally:
        await backend.aclose()

    assert kind == b"hash"
    assert ttl > 0
