"""One contract for both limit stores: in-process and a real ``redis-server``.

Window edges are tested by moving a fake clock. The in-process store reads it
through its backend; the Redis store is handed it explicitly (a test-only
seam), so the same Lua runs with the same times. Tests marked ``server_time``
run the Redis store on the server's own clock, as in production.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from gateway.state import limits_scripts
from gateway.state.backend import MemoryBackend, RedisBackend
from gateway.state.limits_store import (
    BUSY_RETRY_SECONDS,
    CONCURRENT_REQUESTS,
    DAILY_BUDGET,
    MONTHLY_BUDGET,
    REQUESTS_PER_MINUTE,
    TOKENS_PER_MINUTE,
    LimitPolicy,
    LimitStore,
    MemoryLimitStore,
    RedisLimitStore,
    Reservation,
    budget_periods,
)

# 2025-03-14 09:30:00 UTC: far from any day or month boundary.
START = datetime(2025, 3, 14, 9, 30, tzinfo=UTC).timestamp()
_client_ids = itertools.count(random.randrange(1_000_000, 9_000_000, 1000))


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client_id() -> int:
    return next(_client_ids)


def redis_backend(server) -> RedisBackend:
    # Generous timeouts: these tests check behaviour, not Redis latency.
    backend = RedisBackend(
        f"redis://127.0.0.1:{server.port}/0", connect_timeout=2, command_timeout=2
    )
    # redis-py's pool refuses a 101st concurrent connection ("Too many
    # connections") instead of waiting for one; the 300 concurrent admits here
    # need more. TODO: the backend itself should use a blocking pool.
    backend.client.connection_pool.max_connections = 1000
    return backend


@pytest.fixture(params=["memory", "redis"])
async def store(request, clock: FakeClock) -> AsyncIterator[LimitStore]:
    if request.param == "memory":
        yield MemoryLimitStore(MemoryBackend(clock=clock))
        return
    backend = redis_backend(request.getfixturevalue("redis_server"))
    yield RedisLimitStore(backend, clock=clock)
    await backend.aclose()


@pytest.fixture
async def server_time_store(redis_server) -> AsyncIterator[RedisLimitStore]:
    backend = redis_backend(redis_server)
    yield RedisLimitStore(backend)
    await backend.aclose()


def reservation(tokens: int = 10, cost: int = 0) -> Reservation:
    return Reservation(id=secrets.token_hex(8), tokens=tokens, cost_nanos=cost)


async def admit_many(store, client_id, policy, count, **kwargs) -> list:
    return [
        await store.admit(client_id, policy, reservation(**kwargs))
        for _ in range(count)
    ]


# Rolling windows.


async def test_no_rolling_minute_ever_admits_more_than_the_limit(
    store, clock, client_id
):
    policy = LimitPolicy(requests_per_minute=7)
    rng = random.Random(5)
    admitted: list[float] = []

    for _ in range(400):
        clock.advance(rng.choice([0.0, 0.0, 0.5, 1.7, 4.0, 9.3]))
        result = await store.admit(client_id, policy, reservation())
        in_window = [at for at in admitted if at > clock.now - 60]
        # Exact: admitted exactly when the last minute holds fewer than 7.
        assert result.admitted == (len(in_window) < 7)
        if result.admitted:
            admitted.append(clock.now)

    for at in admitted:
        assert sum(1 for other in admitted if at - 60 < other <= at) <= 7
    assert len(admitted) > 7 * 5


async def test_burst_straddling_a_minute_boundary_gets_the_limit_once(
    store, clock, client_id
):
    policy = LimitPolicy(requests_per_minute=10)
    clock.now = datetime(2025, 3, 14, 9, 30, 59, 500000, tzinfo=UTC).timestamp()

    first = await admit_many(store, client_id, policy, 10)
    clock.advance(1.0)
    second = await admit_many(store, client_id, policy, 10)

    assert all(result.admitted for result in first)
    # A fixed per-minute window would admit all ten again at 09:31:00.
    assert not any(result.admitted for result in second)
    clock.advance(58.999)
    assert not (await store.admit(client_id, policy, reservation())).admitted
    clock.advance(0.001)
    assert all(r.admitted for r in await admit_many(store, client_id, policy, 10))


async def test_refused_requests_take_no_room_in_the_window(store, clock, client_id):
    policy = LimitPolicy(requests_per_minute=2)
    await admit_many(store, client_id, policy, 2)
    for _ in range(5):
        clock.advance(10)
        assert not (await store.admit(client_id, policy, reservation())).admitted

    clock.advance(10.0)
    assert (await store.admit(client_id, policy, reservation())).admitted


async def test_retry_after_is_when_the_oldest_blocking_entry_leaves(
    store, clock, client_id
):
    policy = LimitPolicy(requests_per_minute=2)
    await store.admit(client_id, policy, reservation())
    clock.advance(10)
    await store.admit(client_id, policy, reservation())
    clock.advance(15)

    refused = await store.admit(client_id, policy, reservation())
    assert refused.refused_by == REQUESTS_PER_MINUTE
    assert refused.retry_after == pytest.approx(35.0, abs=1e-6)
    assert refused.resets_in == pytest.approx(35.0, abs=1e-6)

    clock.advance(34.999)
    assert not (await store.admit(client_id, policy, reservation())).admitted
    clock.advance(0.001)
    assert (await store.admit(client_id, policy, reservation())).admitted


async def test_lowered_limit_waits_for_enough_entries_to_leave(store, clock, client_id):
    await admit_many(store, client_id, LimitPolicy(requests_per_minute=10), 5)
    clock.advance(1)
    await admit_many(store, client_id, LimitPolicy(requests_per_minute=10), 1)
    clock.advance(1)

    # Down to 5: five of the six entries must leave, the last of them at +60.
    refused = await store.admit(
        client_id, LimitPolicy(requests_per_minute=1), reservation()
    )
    assert refused.retry_after == pytest.approx(59.0, abs=1e-6)


async def test_window_counts_are_reported(store, clock, client_id):
    policy = LimitPolicy(requests_per_minute=5, tokens_per_minute=1000)
    await store.admit(client_id, policy, reservation(tokens=100))
    clock.advance(20)

    result = await store.admit(client_id, policy, reservation(tokens=250))

    assert (result.requests_in_window, result.tokens_in_window) == (2, 350)
    assert result.window_reset == pytest.approx(60.0, abs=1e-6)


# Token reservations.


async def test_tokens_are_reserved_until_settled_to_real_usage(store, clock, client_id):
    policy = LimitPolicy(tokens_per_minute=1000)
    stream = reservation(tokens=600)
    assert (await store.admit(client_id, policy, stream)).admitted

    second = await store.admit(client_id, policy, reservation(tokens=600))
    assert (second.admitted, second.refused_by) == (False, TOKENS_PER_MINUTE)

    clock.advance(5)
    await store.settle(client_id, stream, tokens_used=150, cost_nanos=0)
    third = await store.admit(client_id, policy, reservation(tokens=600))
    assert third.admitted
    assert third.tokens_in_window == 750


async def test_settling_above_the_reservation_takes_more_room(store, clock, client_id):
    policy = LimitPolicy(tokens_per_minute=1000)
    first = reservation(tokens=300)
    await store.admit(client_id, policy, first)
    await store.settle(client_id, first, tokens_used=900, cost_nanos=0)

    refused = await store.admit(client_id, policy, reservation(tokens=200))
    assert (refused.admitted, refused.tokens_in_window) == (False, 900)


async def test_a_failed_request_releases_its_tokens_but_still_counts(
    store, clock, client_id
):
    policy = LimitPolicy(requests_per_minute=2, tokens_per_minute=1000)
    failed = reservation(tokens=900)
    await store.admit(client_id, policy, failed)
    await store.settle(client_id, failed, tokens_used=0, cost_nanos=0)

    result = await store.admit(client_id, policy, reservation(tokens=900))
    assert (result.admitted, result.requests_in_window, result.tokens_in_window) == (
        True,
        2,
        900,
    )


async def test_token_retry_after_waits_for_enough_tokens_to_leave(
    store, clock, client_id
):
    policy = LimitPolicy(tokens_per_minute=1000)
    for _ in range(3):
        await store.admit(client_id, policy, reservation(tokens=300))
        clock.advance(10)
    clock.advance(-5)  # now = start + 25

    small = await store.admit(client_id, policy, reservation(tokens=400))
    medium = await store.admit(client_id, policy, reservation(tokens=500))
    large = await store.admit(client_id, policy, reservation(tokens=800))

    # 900 + 400 needs the first entry gone (it leaves at t=60), 900 + 500 the
    # first two (t=70), 900 + 800 all three (t=80).
    assert small.retry_after == pytest.approx(35.0, abs=1e-6)
    assert medium.retry_after == pytest.approx(45.0, abs=1e-6)
    assert large.retry_after == pytest.approx(55.0, abs=1e-6)
    clock.advance(35)
    assert (await store.admit(client_id, policy, reservation(tokens=400))).admitted


async def test_a_reservation_above_the_limit_needs_an_empty_window(
    store, clock, client_id
):
    policy = LimitPolicy(tokens_per_minute=1000)
    await store.admit(client_id, policy, reservation(tokens=1))
    clock.advance(30)

    refused = await store.admit(client_id, policy, reservation(tokens=5000))
    assert refused.retry_after == pytest.approx(30.0, abs=1e-6)
    clock.advance(30)
    assert (await store.admit(client_id, policy, reservation(tokens=5000))).admitted


async def test_a_settle_after_the_window_passed_changes_nothing(
    store, clock, client_id
):
    policy = LimitPolicy(tokens_per_minute=1000)
    long_stream = reservation(tokens=800)
    await store.admit(client_id, policy, long_stream)
    clock.advance(90)
    await store.admit(client_id, policy, reservation(tokens=100))

    await store.settle(client_id, long_stream, tokens_used=5000, cost_nanos=0)
    result = await store.admit(client_id, policy, reservation(tokens=100))
    assert (result.admitted, result.tokens_in_window) == (True, 200)


# Concurrency.


async def test_concurrency_cap_counts_requests_in_flight(store, clock, client_id):
    policy = LimitPolicy(max_concurrent=2)
    first, second = reservation(), reservation()
    await store.admit(client_id, policy, first)
    await store.admit(client_id, policy, second)

    refused = await store.admit(client_id, policy, reservation())
    assert refused.refused_by == CONCURRENT_REQUESTS
    assert refused.retry_after == pytest.approx(BUSY_RETRY_SECONDS)

    await store.settle(client_id, first, tokens_used=0, cost_nanos=0)
    assert (await store.admit(client_id, policy, reservation())).admitted


async def test_an_unsettled_reservation_stops_holding_after_its_hold(
    store, clock, client_id
):
    policy = LimitPolicy(max_concurrent=1)
    await store.admit(client_id, policy, reservation(), hold_seconds=120)
    clock.advance(119)
    assert not (await store.admit(client_id, policy, reservation())).admitted
    clock.advance(1)
    assert (await store.admit(client_id, policy, reservation())).admitted


# Budgets.


async def test_concurrent_admits_overrun_a_budget_by_no_more_than_in_flight(
    store, clock, client_id
):
    policy = LimitPolicy(daily_budget_nanos=1000)
    results = await asyncio.gather(
        *(store.admit(client_id, policy, reservation(cost=300)) for _ in range(40))
    )

    # Admitted while spent + in flight < budget: 0, 300, 600 and 900.
    admitted = [result for result in results if result.admitted]
    assert len(admitted) == 4
    refused = next(result for result in results if not result.admitted)
    assert refused.refused_by == DAILY_BUDGET
    assert refused.retry_after == pytest.approx(BUSY_RETRY_SECONDS)
    midnight = datetime(2025, 3, 15, tzinfo=UTC).timestamp()
    assert refused.resets_in == pytest.approx(midnight - clock.now, abs=1e-6)


async def test_spent_budget_refuses_until_the_next_utc_day(store, clock, client_id):
    policy = LimitPolicy(daily_budget_nanos=1000)
    clock.now = datetime(2025, 3, 14, 23, 59, 0, tzinfo=UTC).timestamp()
    held = reservation(cost=300)
    await store.admit(client_id, policy, held)
    await store.settle(client_id, held, tokens_used=0, cost_nanos=1200)

    refused = await store.admit(client_id, policy, reservation(cost=300))
    assert refused.refused_by == DAILY_BUDGET
    assert refused.retry_after == pytest.approx(60.0, abs=1e-6)
    assert await store.spent(client_id) == (1200, 1200)

    clock.advance(60)
    assert (await store.admit(client_id, policy, reservation(cost=300))).admitted
    assert await store.spent(client_id) == (0, 1200)


async def test_monthly_budget_resets_on_the_first_of_the_month(store, clock, client_id):
    policy = LimitPolicy(daily_budget_nanos=10_000, monthly_budget_nanos=2000)
    clock.now = datetime(2024, 2, 29, 12, 0, tzinfo=UTC).timestamp()
    held = reservation(cost=100)
    await store.admit(client_id, policy, held)
    await store.settle(client_id, held, tokens_used=0, cost_nanos=2000)

    refused = await store.admit(client_id, policy, reservation(cost=100))
    assert refused.refused_by == MONTHLY_BUDGET
    assert refused.retry_after == pytest.approx(12 * 3600.0, abs=1e-6)

    clock.advance(12 * 3600)
    assert (await store.admit(client_id, policy, reservation(cost=100))).admitted


async def test_a_zero_budget_admits_nothing(store, clock, client_id):
    refused = await store.admit(
        client_id, LimitPolicy(monthly_budget_nanos=0), reservation(cost=0)
    )
    assert (refused.admitted, refused.refused_by) == (False, MONTHLY_BUDGET)


async def test_the_longest_wait_names_the_refusal(store, clock, client_id):
    policy = LimitPolicy(requests_per_minute=1, daily_budget_nanos=100)
    first = reservation(cost=10)
    await store.admit(client_id, policy, first)
    await store.settle(client_id, first, tokens_used=0, cost_nanos=500)

    refused = await store.admit(client_id, policy, reservation(cost=10))
    assert refused.refused_by == DAILY_BUDGET


# Redis only: server time, atomicity, key hygiene.


@pytest.mark.parametrize("rounds", [3])
async def test_concurrent_admits_on_server_time_admit_exactly_the_limit(
    server_time_store, client_id, rounds
):
    policy = LimitPolicy(requests_per_minute=60)
    for round_number in range(rounds):
        results = await asyncio.gather(
            *(
                server_time_store.admit(client_id + round_number, policy, reservation())
                for _ in range(300)
            )
        )
        assert sum(result.admitted for result in results) == 60
        refused = [result for result in results if not result.admitted]
        assert all(58 < result.retry_after <= 60 for result in refused)


async def test_every_key_expires(server_time_store, client_id):
    policy = LimitPolicy(requests_per_minute=5, tokens_per_minute=100, max_concurrent=3)
    held = reservation(tokens=30, cost=5)
    await server_time_store.admit(client_id, policy, held)
    await server_time_store.settle(client_id, held, tokens_used=20, cost_nanos=7)
    await server_time_store.admit(client_id, policy, reservation(cost=5))

    redis = server_time_store.backend.client
    keys = server_time_store.keys(client_id)
    assert all(key.startswith(f"tg:{{c:{client_id}}}:") for key in keys)
    for key in keys:
        assert await redis.exists(key), key
        assert await redis.pttl(key) > 0, key
    assert 0 < await redis.ttl(keys[0]) <= 61


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2025, 1, 1, tzinfo=UTC),
        datetime(2025, 3, 1, tzinfo=UTC),
        datetime(2100, 2, 28, 12, tzinfo=UTC),
        datetime(2000, 2, 29, 6, tzinfo=UTC),
    ],
)
async def test_lua_budget_periods_match_python(redis_server, moment):
    backend = redis_backend(redis_server)
    script = backend.script(
        limits_scripts.PRELUDE
        + "local d, dl, m, ml = periods(tonumber(ARGV[1]))\n"
        + "return {d, int(dl), m, int(ml)}"
    )
    now = moment.timestamp()

    day_id, day_left, month_id, month_left = await backend.run(
        script, [], [round(now * 1_000_000)]
    )
    await backend.aclose()

    day, month = budget_periods(now)
    assert (day_id, month_id) == (day.id, month.id)
    assert int(day_left) == round((day.ends - now) * 1_000_000)
    assert int(month_left) == round((month.ends - now) * 1_000_000)
