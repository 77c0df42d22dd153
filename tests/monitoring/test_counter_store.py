"""One contract for both counter stores: in-process and a real redis-server."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from gateway.state.backend import RedisBackend, StoreUnavailable
from gateway.state.counter_store import (
    SERIES_MINUTES_KEPT,
    CounterStore,
    MemoryCounterStore,
    RedisCounterStore,
)

MINUTE = 29_000_000


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[CounterStore]:
    if request.param == "memory":
        yield MemoryCounterStore()
        return

    server = request.getfixturevalue("redis_server")
    backend = RedisBackend(f"redis://127.0.0.1:{server.port}/0")
    # A fresh logical namespace per test: the totals key is fixed by design.
    await backend.client.flushdb()
    yield RedisCounterStore(backend)
    await backend.aclose()


async def test_totals_add_up_across_records(store: CounterStore) -> None:
    await store.record(
        totals={"requests": 1, "cost_nanos": 1500},
        minute=MINUTE,
        per_minute={"requests": 1},
    )
    await store.record(
        totals={"requests": 1, "cost_nanos": 2500, "errors": 1},
        minute=MINUTE,
        per_minute={"requests": 1},
    )

    assert await store.totals() == {"requests": 2, "cost_nanos": 4000, "errors": 1}


async def test_empty_store_reads_as_no_counters(store: CounterStore) -> None:
    assert await store.totals() == {}
    assert await store.series(last_minute=MINUTE, count=60) == {}


async def test_series_keeps_each_minute_apart(store: CounterStore) -> None:
    for minute, count in ((MINUTE - 2, 3), (MINUTE, 1)):
        for _ in range(count):
            await store.record(
                totals={"requests": 1},
                minute=minute,
                per_minute={"requests": 1, "latency_us_sum": 10},
            )

    series = await store.series(last_minute=MINUTE, count=60)

    assert series == {
        MINUTE - 2: {"requests": 3, "latency_us_sum": 30},
        MINUTE: {"requests": 1, "latency_us_sum": 10},
    }
    assert await store.series(last_minute=MINUTE - 1, count=1) == {}


async def test_labelled_fields_keep_their_names(store: CounterStore) -> None:
    name = "req|openai|anthropic|claude-haiku-4-5-20251001|200|miss"
    await store.record(totals={name: 1}, minute=MINUTE, per_minute={})

    assert await store.totals() == {name: 1}


async def test_big_costs_stay_exact(store: CounterStore) -> None:
    # 2**53 nano-dollars is about 9 million dollars: floats would drift there.
    amount = 2**53 + 1
    await store.record(totals={"cost_nanos": amount}, minute=MINUTE, per_minute={})
    await store.record(totals={"cost_nanos": 1}, minute=MINUTE, per_minute={})

    assert (await store.totals())["cost_nanos"] == amount + 1


async def test_memory_store_forgets_minutes_older_than_kept() -> None:
    store = MemoryCounterStore()
    await store.record(totals={}, minute=MINUTE, per_minute={"requests": 1})
    await store.record(
        totals={}, minute=MINUTE + SERIES_MINUTES_KEPT + 1, per_minute={"requests": 1}
    )

    assert await store.series(last_minute=MINUTE, count=1) == {}


async def test_redis_minutes_expire(redis_server) -> None:
    backend = RedisBackend(f"redis://127.0.0.1:{redis_server.port}/0")
    store = RedisCounterStore(backend)
    minute = MINUTE + secrets.randbelow(1000)
    await store.record(totals={}, minute=minute, per_minute={"requests": 1})

    ttl = await backend.client.ttl(f"tg:{{m}}:min:{minute}")

    assert 0 < ttl <= SERIES_MINUTES_KEPT * 60
    await backend.aclose()


async def test_redis_store_keeps_counts_redis_never_got(redis_server) -> None:
    backend = RedisBackend(f"redis://127.0.0.1:{redis_server.port}/0")
    await backend.client.flushdb()
    store = RedisCounterStore(backend)
    await store.record(
        totals={"requests": 1}, minute=MINUTE, per_minute={"requests": 1}
    )

    redis_server.stop()
    try:
        with pytest.raises(StoreUnavailable):
            await store.record(
                totals={"requests": 1}, minute=MINUTE + 1, per_minute={"requests": 1}
            )
    finally:
        redis_server.start()
    await store.record(
        totals={"requests": 1}, minute=MINUTE + 1, per_minute={"requests": 1}
    )

    # The restarted server (no persistence) lost the first count; the one sent
    # while it was down arrived with the next call.
    assert await store.totals() == {"requests": 2}
    assert await store.series(last_minute=MINUTE + 1, count=2) == {
        MINUTE + 1: {"requests": 2}
    }
    await backend.aclose()


async def test_redis_store_never_counts_a_timed_out_call_twice(redis_server) -> None:
    backend = RedisBackend(f"redis://127.0.0.1:{redis_server.port}/0")
    await backend.client.flushdb()
    store = RedisCounterStore(backend)

    redis_server.freeze()
    try:
        with pytest.raises(StoreUnavailable):
            await store.record(totals={"requests": 1}, minute=MINUTE, per_minute={})
    finally:
        redis_server.thaw()
    await store.record(totals={"requests": 1}, minute=MINUTE, per_minute={})

    # The frozen server ran the timed-out call once it woke up.
    assert await store.totals() == {"requests": 2}
    await backend.aclose()


async def test_redis_keys_share_one_cluster_slot(redis_server) -> None:
    backend = RedisBackend(f"redis://127.0.0.1:{redis_server.port}/0")
    await backend.client.flushdb()
    store = RedisCounterStore(backend)
    await store.record(
        totals={"requests": 1}, minute=MINUTE, per_minute={"requests": 1}
    )

    keys = sorted(k.decode() for k in await backend.client.keys("*"))

    assert keys == [f"tg:{{m}}:min:{MINUTE}", "tg:{m}:totals"]
    await backend.aclose()
