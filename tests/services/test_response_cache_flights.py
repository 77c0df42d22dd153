"""Single flight: concurrent identical misses, in one process and across replicas."""

from __future__ import annotations

import asyncio

import pytest

from gateway.services.response_cache import MISS, ResponseCache
from gateway.state.backend import MemoryBackend
from gateway.state.cache_store import MemoryCacheStore
from tests.services.cache_fakes import FakeClock, Replica, exchange, message


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> MemoryCacheStore:
    return MemoryCacheStore(
        MemoryBackend(clock=clock), max_entry_bytes=64 * 1024, max_bytes=10**7
    )


@pytest.fixture
def cache(store: MemoryCacheStore, clock: FakeClock) -> ResponseCache:
    return Replica(store, clock).cache


async def test_concurrent_identical_misses_wait_for_the_first_answer(cache):
    leader = exchange()
    assert await cache.lookup(leader) is None

    followers = [asyncio.create_task(cache.lookup(exchange())) for _ in range(5)]
    await asyncio.sleep(0)
    assert not any(task.done() for task in followers)

    await cache.store(leader, message())
    assert [await task for task in followers] == [message()] * 5


async def test_followers_call_upstream_themselves_when_the_leader_fails(cache):
    leader = exchange()
    await cache.lookup(leader)
    follower = exchange()
    waiting = asyncio.create_task(cache.lookup(follower))
    await asyncio.sleep(0)

    await cache.finish(leader)
    assert await waiting is None
    assert follower.cache_status == MISS


async def test_followers_are_released_when_the_leaders_task_is_cancelled(cache):
    started = asyncio.Event()

    async def leader_request() -> None:
        await cache.lookup(exchange())
        started.set()
        await asyncio.Event().wait()

    leader = asyncio.create_task(leader_request())
    await started.wait()
    waiting = asyncio.create_task(cache.lookup(exchange()))
    await asyncio.sleep(0)

    leader.cancel()
    assert await asyncio.wait_for(waiting, timeout=1) is None


async def test_a_finished_flight_lets_the_next_miss_lead_again(cache, store):
    first = exchange()
    await cache.lookup(first)
    await cache.finish(first)

    second = exchange()
    assert await cache.lookup(second) is None
    assert (await store.peek(second.cache_key)).locked


async def test_another_replica_waits_for_the_leaders_answer_through_the_store(
    store, clock
):
    one, two = Replica(store, clock), Replica(store, clock)
    leader = exchange()
    await one.cache.lookup(leader)

    waiting = asyncio.create_task(two.cache.lookup(exchange()))
    for _ in range(3):
        await asyncio.sleep(0)
    await one.cache.store(leader, message())

    assert await waiting == message()
    assert two.sleeps and not (await store.peek(leader.cache_key)).locked


async def test_another_replica_stops_waiting_when_the_lock_goes_without_an_answer(
    store, clock
):
    one, two = Replica(store, clock), Replica(store, clock)
    leader = exchange()
    await one.cache.lookup(leader)

    waiting = asyncio.create_task(two.cache.lookup(exchange()))
    await asyncio.sleep(0)
    await one.cache.finish(leader)

    assert await waiting is None
    assert len(two.sleeps) <= 2


async def test_another_replica_gives_up_after_the_lock_time(store, clock):
    one, two = Replica(store, clock), Replica(store, clock, lock_seconds=2)
    await one.cache.lookup(exchange())

    assert await two.cache.lookup(exchange()) is None
    assert 2 <= sum(two.sleeps) < 2.5


class CountingStore(MemoryCacheStore):
    """Counts the round trips a Redis store would make."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[str] = []

    async def get_or_lock(self, cache_key, *, lock_seconds):
        self.calls.append("get_or_lock")
        return await super().get_or_lock(cache_key, lock_seconds=lock_seconds)

    async def set(self, cache_key, value, *, ttl_seconds, token=None):
        self.calls.append("set")
        return await super().set(cache_key, value, ttl_seconds=ttl_seconds, token=token)

    async def release(self, cache_key, token):
        self.calls.append("release")
        return await super().release(cache_key, token)


async def test_a_miss_costs_two_store_round_trips_and_a_hit_one(clock):
    store = CountingStore(
        MemoryBackend(clock=clock), max_entry_bytes=10**5, max_bytes=10**6
    )
    cache = Replica(store, clock).cache
    first = exchange()
    await cache.lookup(first)
    followers = [asyncio.create_task(cache.lookup(exchange())) for _ in range(3)]
    await asyncio.sleep(0)
    await cache.store(first, message())
    await asyncio.gather(*followers)
    assert store.calls == ["get_or_lock", "set"]

    store.calls.clear()
    await cache.lookup(exchange())
    assert store.calls == ["get_or_lock"]


async def test_no_cache_costs_one_store_round_trip(clock):
    store = CountingStore(
        MemoryBackend(clock=clock), max_entry_bytes=10**5, max_bytes=10**6
    )
    cache = Replica(store, clock).cache
    fresh = exchange(cache_control="no-cache")
    await cache.lookup(fresh)
    await cache.store(fresh, message())

    assert store.calls == ["set"]
