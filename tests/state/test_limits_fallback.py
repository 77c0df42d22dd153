"""Limits while Redis is away: this replica's share, settled where admitted.

The shared store is a fake that fails on demand; the in-process store is the
real one, timed by a fake clock.
"""

from __future__ import annotations

import pytest

from gateway.state.backend import MemoryBackend, StoreUnavailable
from gateway.state.limits_fallback import (
    FallbackLimitStore,
    ProcessLimitStore,
    process_share,
)
from gateway.state.limits_store import Admission, LimitPolicy, Reservation

CLIENT = 7


class SharedLimits:
    """Admits everything while up; notes which reservations it settled."""

    window_seconds = 60.0

    def __init__(self) -> None:
        self.down = False
        self.settled: list[str] = []

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("connection refused")

    async def admit(self, client_id, policy, reservation, *, hold_seconds):
        self._check()
        return Admission(True, 1, reservation.tokens, 60.0)

    async def settle(self, client_id, reservation, *, tokens_used, cost_nanos):
        self._check()
        self.settled.append(reservation.id)

    async def spent(self, client_id):
        self._check()
        return 5, 50


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shared() -> SharedLimits:
    return SharedLimits()


@pytest.fixture
def store(shared: SharedLimits, clock: Clock) -> FallbackLimitStore:
    local = ProcessLimitStore(
        MemoryBackend(clock=clock), replicas=3, window_seconds=60.0
    )
    return FallbackLimitStore(shared, local, clock=clock)


def reservation(name: str, tokens: int = 1) -> Reservation:
    return Reservation(id=name, tokens=tokens, cost_nanos=0)


async def admit(store: FallbackLimitStore, name: str, policy: LimitPolicy) -> bool:
    return (await store.admit(CLIENT, policy, reservation(name))).admitted


async def settle(store: FallbackLimitStore, name: str) -> None:
    await store.settle(CLIENT, reservation(name), tokens_used=1, cost_nanos=0)


async def test_the_shared_limits_decide_while_redis_answers(store, shared):
    policy = LimitPolicy(requests_per_minute=3)

    results = [await admit(store, str(i), policy) for i in range(5)]

    assert results == [True] * 5


async def test_while_redis_is_away_each_replica_admits_its_share(store, shared):
    shared.down = True
    policy = LimitPolicy(requests_per_minute=9)

    results = [await admit(store, str(i), policy) for i in range(5)]

    assert results == [True, True, True, False, False]


async def test_a_reservation_made_in_process_is_settled_in_process(store, shared):
    policy = LimitPolicy(max_concurrent=3)
    shared.down = True
    assert await admit(store, "a", policy)

    shared.down = False
    await settle(store, "a")

    assert shared.settled == []
    shared.down = True
    assert await admit(store, "b", policy), "the settled reservation freed its slot"


async def test_a_shared_reservation_is_settled_in_redis(store, shared):
    assert await admit(store, "a", LimitPolicy())

    await settle(store, "a")

    assert shared.settled == ["a"]


async def test_settling_while_redis_is_away_never_fails(store, shared):
    assert await admit(store, "a", LimitPolicy())
    shared.down = True

    await settle(store, "a")

    assert shared.settled == []


async def test_spent_comes_from_the_process_while_redis_is_away(store, shared):
    assert await store.spent(CLIENT) == (5, 50)

    shared.down = True

    assert await store.spent(CLIENT) == (0, 0)


async def test_unsettled_reservations_are_forgotten_after_their_hold(
    store, shared, clock
):
    shared.down = True
    await store.admit(CLIENT, LimitPolicy(), reservation("lost"), hold_seconds=10)

    clock.now += 11
    await store.admit(CLIENT, LimitPolicy(), reservation("next"), hold_seconds=10)

    assert list(store._held_locally) == ["next"]


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
        (
            await store.admit(7, policy, Reservation(id=str(i), tokens=1, cost_nanos=0))
        ).admitted
        for i in range(5)
    ]

    assert admitted == [True, True, True, False, False]
