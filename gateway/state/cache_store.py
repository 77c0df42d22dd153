"""Storage for the response cache: entries with a TTL, and single-flight locks.

The store holds opaque bytes under keys the response cache computes (see
``gateway.services.response_cache``); it knows nothing of messages. Besides
``get`` and ``set`` it offers a short lock per key, so that when several
replicas miss on the same request at once only one of them calls upstream
while the others poll for its answer.

Redis layout: the entry of cache key ``K`` lives at ``tg:{rc:K}`` and its lock
at ``tg:{rc:K}:lock``; the hash tag keeps both on one Cluster slot, so one
``MGET`` reads them together. Entries expire by ``EX``; locks by ``PX`` and are
released only by the holder's random token (a Lua compare-and-delete), so a
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

_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Peek:
    """One look at a key: its entry, if any, and whether its lock is held."""

    value: bytes | None
    locked: bool


class CacheStore(ABC):
    """Byte entries with a TTL and a per-key lock, shared by one deployment."""

    max_entry_bytes: int

    @abstractmethod
    async def get(self, cache_key: str) -> bytes | None:
        """The live entry under ``cache_key``, or None."""

    @abstractmethod
    async def set(self, cache_key: str, value: bytes, *, ttl_seconds: int) -> bool:
        """Store an entry; False (and nothing stored) when it is too large."""

    @abstractmethod
    async def delete(self, cache_key: str) -> None:
        """Forget the entry under ``cache_key``."""

    @abstractmethod
    async def acquire(self, cache_key: str, *, ttl_seconds: float) -> str | None:
        """Take the key's lock for ``ttl_seconds``; its token, or None if held."""

    @abstractmethod
    async def release(self, cache_key: str, token: str) -> bool:
        """Release the lock if ``token`` still holds it."""

    @abstractmethod
    async def peek(self, cache_key: str) -> Peek:
        """Read the entry and the lock's presence in one step."""


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

    async def get(self, cache_key: str) -> bytes | None:
        return self._live(cache_key)

    async def set(self, cache_key: str, value: bytes, *, ttl_seconds: int) -> bool:
        if len(value) > self.max_entry_bytes or len(value) > self.max_bytes:
            return False

        self._drop(cache_key)
        self._entries[cache_key] = (self.backend.clock() + ttl_seconds, value)
        self._bytes += len(value)
        while self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)
        return True

    async def delete(self, cache_key: str) -> None:
        self._drop(cache_key)

    async def acquire(self, cache_key: str, *, ttl_seconds: float) -> str | None:
        now = self.backend.clock()
        held = self._locks.get(cache_key)
        if held is not None and held[0] > now:
            return None

        token = secrets.token_hex(8)
        self._locks[cache_key] = (now + ttl_seconds, token)
        return token

    async def release(self, cache_key: str, token: str) -> bool:
        held = self._locks.get(cache_key)
        if held is None or held[1] != token:
            return False
        del self._locks[cache_key]
        return True

    async def peek(self, cache_key: str) -> Peek:
        held = self._locks.get(cache_key)
        locked = held is not None and held[0] > self.backend.clock()
        return Peek(self._live(cache_key), locked)

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
        self._release = backend.script(_RELEASE_SCRIPT)

    async def get(self, cache_key: str) -> bytes | None:
        return await _call(self.backend.client.get(_entry_key(cache_key)))

    async def set(self, cache_key: str, value: bytes, *, ttl_seconds: int) -> bool:
        if len(value) > self.max_entry_bytes:
            return False
        command = self.backend.client.set(_entry_key(cache_key), value, ex=ttl_seconds)
        await _call(command)
        return True

    async def delete(self, cache_key: str) -> None:
        await _call(self.backend.client.delete(_entry_key(cache_key)))

    async def acquire(self, cache_key: str, *, ttl_seconds: float) -> str | None:
        token = secrets.token_hex(8)
        milliseconds = max(int(ttl_seconds * 1000), 1)
        command = self.backend.client.set(
            _lock_key(cache_key), token, nx=True, px=milliseconds
        )
        return token if await _call(command) else None

    async def release(self, cache_key: str, token: str) -> bool:
        released = await self.backend.run(
            self._release, [_lock_key(cache_key)], [token]
        )
        return bool(released)

    async def peek(self, cache_key: str) -> Peek:
        keys = [_entry_key(cache_key), _lock_key(cache_key)]
        value, lock = await _call(self.backend.client.mget(keys))
        return Peek(value, lock is not None)


def _entry_key(cache_key: str) -> str:
    return key("{rc:" + cache_key + "}")


def _lock_key(cache_key: str) -> str:
    return key("{rc:" + cache_key + "}", "lock")


async def _call(command: Awaitable[T]) -> T:
    """Await a Redis command, turning any failure into ``StoreUnavailable``."""
    try:
        return await command
    except (RedisError, OSError, TimeoutError) as exc:
        raise StoreUnavailable(str(exc)) from exc
