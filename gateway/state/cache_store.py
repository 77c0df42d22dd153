"""Storage for the response cache: entries with a TTL, and single-flight locks.

The store holds opaque bytes under keys the response cache computes (see
``gateway.services.response_cache``); it knows nothing of messages. Besides
entries it keeps a short lock per key, so that when several replicas miss on
the same request at once only one of them calls upstream while the others
poll for its answer.

Each step of a request is one round trip: ``get_or_lock`` reads the entry and,
on a miss, tries to take the lock; ``set`` stores the answer and releases the
caller's lock. A hit costs one round trip, a miss two.

Redis layout: the entry of cache key ``K`` lives at ``tg:{rc:K}`` and its lock
at ``tg:{rc:K}:lock``; the hash tag keeps both on one Cluster slot, so one
script touches both. Entries expire by ``EX``; locks by ``PX`` and are
released only by the holder's random token (compare-and-delete in Lua), so a
holder whose lock already expired cannot release a newer holder's lock.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from redis.exceptions import RedisError

from gateway.conf import config
from gateway.state.backend import MemoryBackend, RedisBackend, StoreUnavailable, key

T = TypeVar("T")

_GET_OR_LOCK_SCRIPT = """
local value = redis.call('GET', KEYS[1])
if value then
  return {1, value}
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {0, ARGV[1]}
end
return {0, ''}
"""

_SET_SCRIPT = """
if ARGV[1] ~= '' then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then
  return redis.call('DEL', KEYS[2])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Lookup:
    """An entry, or on a miss the lock token if this caller took the lock."""

    value: bytes | None
    token: str | None


@dataclass(frozen=True, slots=True)
class Peek:
    """One look at a key: its entry, if any, and whether its lock is held."""

    value: bytes | None
    locked: bool


class CacheStore(ABC):
    """Byte entries with a TTL and a per-key lock, shared by one deployment."""

    max_entry_bytes: int

    @abstractmethod
    async def get_or_lock(self, cache_key: str, *, lock_seconds: float) -> Lookup:
        """The entry; on a miss, take the key's lock if it is free."""

    @abstractmethod
    async def set(
        self,
        cache_key: str,
        value: bytes,
        *,
        ttl_seconds: int,
        token: str | None = None,
    ) -> bool:
        """Store an entry and release ``token``'s lock; False if too large.

        A value over the size limit is not stored, but the lock is released.
        """

    @abstractmethod
    async def release(self, cache_key: str, token: str) -> bool:
        """Release the lock if ``token`` still holds it."""

    @abstractmethod
    async def peek(self, cache_key: str) -> Peek:
        """Read the entry and the lock's presence in one step."""

    @abstractmethod
    async def delete(self, cache_key: str) -> None:
        """Forget the entry under ``cache_key``."""


class MemoryCacheStore(CacheStore):
    """Entries of this process, least recently used evicted past a byte budget.

    Time comes from ``backend.clock``, so tests expire entries and locks by
    moving a fake clock.
    """

    def __init__(
        self,
        backend: MemoryBackend,
        *,
        max_entry_bytes: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self.backend = backend
        self.max_entry_bytes = max_entry_bytes or config().CACHE_MAX_ENTRY_BYTES
        self.max_bytes = max_bytes or config().CACHE_MEMORY_MAX_BYTES
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._locks: dict[str, tuple[float, str]] = {}
        self._bytes = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    async def get_or_lock(self, cache_key: str, *, lock_seconds: float) -> Lookup:
        value = self._live(cache_key)
        if value is not None:
            return Lookup(value, None)
        if self._locked(cache_key):
            return Lookup(None, None)

        token = secrets.token_hex(8)
        self._locks[cache_key] = (self.backend.clock() + lock_seconds, token)
        return Lookup(None, token)

    async def set(
        self,
        cache_key: str,
        value: bytes,
        *,
        ttl_seconds: int,
        token: str | None = None,
    ) -> bool:
        if token is not None:
            self._release(cache_key, token)
        if len(value) > min(self.max_entry_bytes, self.max_bytes):
            return False

        self._drop(cache_key)
        self._entries[cache_key] = (self.backend.clock() + ttl_seconds, value)
        self._bytes += len(value)
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    async def release(self, cache_key: str, token: str) -> bool:
        return self._release(cache_key, token)

    async def peek(self, cache_key: str) -> Peek:
        return Peek(self._live(cache_key), self._locked(cache_key))

    async def delete(self, cache_key: str) -> None:
        self._drop(cache_key)

    def _release(self, cache_key: str, token: str) -> bool:
        held = self._locks.get(cache_key)
        if held is None or held[1] != token:
            return False
        del self._locks[cache_key]
        return True

    def _locked(self, cache_key: str) -> bool:
        held = self._locks.get(cache_key)
        return held is not None and held[0] > self.backend.clock()

    def _live(self, cache_key: str) -> bytes | None:
        entry = self._entries.get(cache_key)
        if entry is None:
            return None
        if entry[0] <= self.backend.clock():
            self._drop(cache_key)
            return None

        self._entries.move_to_end(cache_key)
        return entry[1]

    def _drop(self, cache_key: str) -> None:
        entry = self._entries.pop(cache_key, None)
        if entry is not None:
            self._bytes -= len(entry[1])


class RedisCacheStore(CacheStore):
    """Entries shared by every replica; Redis evicts by its own policy.

    Any Redis failure surfaces as ``StoreUnavailable``; the response cache
    treats that as a miss and never fails a request over it.
    """

    def __init__(
        self, backend: RedisBackend, *, max_entry_bytes: int | None = None
    ) -> None:
        self.backend = backend
        self.max_entry_bytes = max_entry_bytes or config().CACHE_MAX_ENTRY_BYTES
        self._get_or_lock = backend.script(_GET_OR_LOCK_SCRIPT)
        self._set = backend.script(_SET_SCRIPT)

    async def get_or_lock(self, cache_key: str, *, lock_seconds: float) -> Lookup:
        token = secrets.token_hex(8)
        milliseconds = max(int(lock_seconds * 1000), 1)
        found, payload = await self.backend.run(
            self._get_or_lock, _keys(cache_key), [token, milliseconds]
        )
        if found:
            return Lookup(payload, None)
        return Lookup(None, payload.decode() if payload else None)

    async def set(
        self,
        cache_key: str,
        value: bytes,
        *,
        ttl_seconds: int,
        token: str | None = None,
    ) -> bool:
        fits = len(value) <= self.max_entry_bytes
        if not fits and token is None:
            return False

        stored = value if fits else b""
        args = [stored, ttl_seconds, token or ""]
        await self.backend.run(self._set, _keys(cache_key), args)
        return fits

    async def release(self, cache_key: str, token: str) -> bool:
        released = await self.backend.run(self._set, _keys(cache_key), [b"", 0, token])
        return bool(released)

    async def peek(self, cache_key: str) -> Peek:
        value, lock = await _call(self.backend.client.mget(_keys(cache_key)))
        return Peek(value, lock is not None)

    async def delete(self, cache_key: str) -> None:
        await _call(self.backend.client.delete(_keys(cache_key)[0]))


def _keys(cache_key: str) -> list[str]:
    tag = "{rc:" + cache_key + "}"
    return [key(tag), key(tag, "lock")]


async def _call(command: Awaitable[T]) -> T:
    """Await a Redis command, turning any failure into ``StoreUnavailable``."""
    try:
        return await command
    except (RedisError, OSError, TimeoutError) as exc:
        raise StoreUnavailable(str(exc)) from exc
