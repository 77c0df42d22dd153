"""One contract for both response-cache stores: in-process and a real redis-server.

The memory store's time moves with a fake clock. Redis expires keys by its own
clock, which tests cannot move, so for Redis the contract checks the TTL the
server holds for each key instead of waiting for it to run out.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from gateway.state.backend import MemoryBackend, RedisBackend, StoreUnavailable
from gateway.state.cache_store import (
    CacheStore,
    Lookup,
    MemoryCacheStore,
    Peek,
    RedisCacheStore,
)
from tests.live import free_port

MAX_ENTRY = 4096


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    store: CacheStore
    clock: FakeClock | None = None
    redis: RedisBackend | None = None

    async def expires_within(
        self, cache_key: str, seconds: float, *, lock: bool = False
    ) -> bool:
        """Whether the entry (or lock) lives at most ``seconds`` more, and still now."""
        if self.clock is not None:
            self.clock.now += seconds - 0.01
            alive = await self._present(cache_key, lock)
            self.clock.now += 0.02
            return alive and not await self._present(cache_key, lock)

        name = "tg:{rc:" + cache_key + "}" + (":lock" if lock else "")
        remaining_ms = await self.redis.client.pttl(name)
        return 0 < remaining_ms <= seconds * 1000

    async def _present(self, cache_key: str, lock: bool) -> bool:
        peek = await self.store.peek(cache_key)
        return peek.locked if lock else peek.value is not None


@pytest.fixture(params=["memory", "redis"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        clock = FakeClock()
        backend = MemoryBackend(clock=clock)
        yield Harness(
            MemoryCacheStore(backend, max_entry_bytes=MAX_ENTRY, max_bytes=10**6), clock
        )
        return

    server = request.getfixturevalue("redis_server")
    backend = RedisBackend(f"redis://127.0.0.1:{server.port}/0", command_timeout=1.0)
    yield Harness(RedisCacheStore(backend, max_entry_bytes=MAX_ENTRY), redis=backend)
    await backend.aclose()


@pytest.fixture
def cache_key() -> str:
    return secrets.token_hex(32)


async def get(store: CacheStore, cache_key: str) -> bytes | None:
    return (await store.peek(cache_key)).value


async def test_a_missing_key_takes_the_lock(harness, cache_key):
    found = await harness.store.get_or_lock(cache_key, lock_seconds=10)

    assert found.value is None and found.token
    assert (await harness.store.peek(cache_key)).locked


async def test_a_stored_entry_reads_back_byte_for_byte_without_locking(
    harness, cache_key
):
    value = b'{"type":"message","content":[{"type":"text","text":"\xc3\xa9"}]}'

    assert await harness.store.set(cache_key, value, ttl_seconds=60) is True
    assert await harness.store.get_or_lock(cache_key, lock_seconds=10) == Lookup(
        value, None
    )
    assert not (await harness.store.peek(cache_key)).locked


async def test_an_entry_over_the_size_limit_is_refused_and_not_stored(
    harness, cache_key
):
    too_big = b"x" * (MAX_ENTRY + 1)
    assert await harness.store.set(cache_key, too_big, ttl_seconds=60) is False
    assert await get(harness.store, cache_key) is None


async def test_an_entry_at_the_size_limit_is_stored(harness, cache_key):
    assert await harness.store.set(cache_key, b"x" * MAX_ENTRY, ttl_seconds=60) is True


async def test_an_entry_expires_after_its_ttl(harness, cache_key):
    await harness.store.set(cache_key, b"v", ttl_seconds=30)

    assert await harness.expires_within(cache_key, 30)


async def test_setting_again_replaces_the_entry_and_its_ttl(harness, cache_key):
    await harness.store.set(cache_key, b"old", ttl_seconds=5)
    await harness.store.set(cache_key, b"new", ttl_seconds=100)

    assert await get(harness.store, cache_key) == b"new"
    assert not await harness.expires_within(cache_key, 5)


async def test_delete_forgets_the_entry(harness, cache_key):
    await harness.store.set(cache_key, b"v", ttl_seconds=60)
    await harness.store.delete(cache_key)

    assert await get(harness.store, cache_key) is None


async def test_only_one_caller_takes_a_key_lock(harness, cache_key):
    first = await harness.store.get_or_lock(cache_key, lock_seconds=10)
    second = await harness.store.get_or_lock(cache_key, lock_seconds=10)

    assert first.token and second == Lookup(None, None)


async def test_storing_with_the_token_releases_the_lock(harness, cache_key):
    token = (await harness.store.get_or_lock(cache_key, lock_seconds=10)).token
    await harness.store.set(cache_key, b"v", ttl_seconds=60, token=token)

    assert await harness.store.peek(cache_key) == Peek(b"v", False)


async def test_storing_with_another_token_leaves_the_lock(harness, cache_key):
    await harness.store.get_or_lock(cache_key, lock_seconds=10)
    await harness.store.set(cache_key, b"v", ttl_seconds=60, token="not-the-token")

    assert await harness.store.peek(cache_key) == Peek(b"v", True)


async def test_an_oversized_answer_still_releases_the_lock(harness, cache_key):
    token = (await harness.store.get_or_lock(cache_key, lock_seconds=10)).token
    too_big = b"x" * (MAX_ENTRY + 1)

    assert (
        await harness.store.set(cache_key, too_big, ttl_seconds=60, token=token)
        is False
    )
    assert await harness.store.peek(cache_key) == Peek(None, False)


async def test_a_lock_is_released_only_by_its_own_token(harness, cache_key):
    token = (await harness.store.get_or_lock(cache_key, lock_seconds=10)).token

    assert await harness.store.release(cache_key, "not-the-token") is False
    assert (await harness.store.peek(cache_key)).locked
    assert await harness.store.release(cache_key, token) is True
    assert not (await harness.store.peek(cache_key)).locked
    assert (await harness.store.get_or_lock(cache_key, lock_seconds=10)).token


async def test_a_lock_expires_after_its_ttl(harness, cache_key):
    await harness.store.get_or_lock(cache_key, lock_seconds=2)

    assert await harness.expires_within(cache_key, 2, lock=True)


async def test_locks_of_different_keys_are_independent(harness, cache_key):
    assert (await harness.store.get_or_lock(cache_key, lock_seconds=10)).token
    assert (await harness.store.get_or_lock(cache_key[::-1], lock_seconds=10)).token


async def test_peek_reads_the_entry_and_the_lock_together(harness, cache_key):
    assert await harness.store.peek(cache_key) == Peek(None, False)
    await harness.store.get_or_lock(cache_key, lock_seconds=10)
    await harness.store.set(cache_key, b"v", ttl_seconds=60)

    assert await harness.store.peek(cache_key) == Peek(b"v", True)


async def test_memory_store_evicts_least_recently_used_entries_past_its_byte_budget():
    store = MemoryCacheStore(
        MemoryBackend(clock=FakeClock()), max_entry_bytes=100, max_bytes=250
    )
    for name in ("a", "b"):
        await store.set(name, b"x" * 100, ttl_seconds=60)
    await store.peek("a")
    await store.set("c", b"x" * 100, ttl_seconds=60)

    assert await get(store, "b") is None
    assert await get(store, "a") is not None and await get(store, "c") is not None
    assert store.size_bytes == 200


async def test_memory_store_reclaims_the_bytes_of_expired_and_replaced_entries():
    clock = FakeClock()
    store = MemoryCacheStore(
        MemoryBackend(clock=clock), max_entry_bytes=100, max_bytes=1000
    )
    await store.set("a", b"x" * 100, ttl_seconds=1)
    await store.set("a", b"x" * 50, ttl_seconds=1)
    assert store.size_bytes == 50

    clock.now += 2
    assert await get(store, "a") is None
    assert store.size_bytes == 0


async def test_redis_keys_share_one_cluster_slot_per_cache_key(redis_server, cache_key):
    backend = RedisBackend(
        f"redis://127.0.0.1:{redis_server.port}/0", command_timeout=1.0
    )
    store = RedisCacheStore(backend, max_entry_bytes=MAX_ENTRY)
    await store.get_or_lock(cache_key, lock_seconds=5)
    await store.set(cache_key, b"v", ttl_seconds=60)

    keys = sorted(
        k.decode() for k in await backend.client.keys(f"tg:{{rc:{cache_key}}}*")
    )
    await backend.aclose()
    assert keys == [f"tg:{{rc:{cache_key}}}", f"tg:{{rc:{cache_key}}}:lock"]


async def test_an_unreachable_redis_raises_store_unavailable(cache_key):
    backend = RedisBackend(f"redis://127.0.0.1:{free_port()}/0")
    store = RedisCacheStore(backend, max_entry_bytes=MAX_ENTRY)

    for call in (
        store.get_or_lock(cache_key, lock_seconds=1),
        store.set(cache_key, b"v", ttl_seconds=1),
        store.peek(cache_key),
        store.release(cache_key, "t"),
        store.delete(cache_key),
    ):
        with pytest.raises(StoreUnavailable):
            await call
    await backend.aclose()
