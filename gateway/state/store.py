"""The state store: one implementation of each concern, in-process or Redis.

Each concern module (``limits_store``, ``breaker_store``, ``cache_store``,
``counter_store``) defines an interface with a ``Memory...`` and a ``Redis...``
implementation; ``build_state_store`` picks the pair matching ``REDIS_URL``.
In Redis mode each concern is wrapped by ``resilient.with_guard``, so one Redis
failure switches the whole process to its own state (see ``resilient``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gateway.conf import config
from gateway.state.backend import Clock, MemoryBackend, RedisBackend
from gateway.state.breaker_store import MemoryBreakerStore, RedisBreakerStore
from gateway.state.cache_store import MemoryCacheStore, RedisCacheStore
from gateway.state.counter_store import MemoryCounterStore, RedisCounterStore
from gateway.state.limits_store import MemoryLimitStore, RedisLimitStore
from gateway.state.resilient import with_guard


@dataclass
class StateStore:
    kind: str
    backend: MemoryBackend | RedisBackend
    limits: Any = None
    breakers: Any = None
    cache: Any = None
    counters: Any = None

    async def aclose(self) -> None:
        if isinstance(self.backend, RedisBackend):
            await self.backend.aclose()


def build_state_store(redis_url: str | None, *, clock: Clock = time.time) -> StateStore:
    if redis_url:
        backend = RedisBackend(redis_url, command_timeout=config().REDIS_TIMEOUT_SECONDS)
        return with_guard(_redis_store(backend))
    return _memory_store(MemoryBackend(clock=clock))


def _memory_store(backend: MemoryBackend) -> StateStore:
    store = StateStore(kind="memory", backend=backend)
    store.breakers = MemoryBreakerStore(backend)
    store.limits = MemoryLimitStore(backend)
    store.cache = MemoryCacheStore(backend)
    # Each concern adds its in-process implementation here.
    store.counters = MemoryCounterStore(backend)
    return store


def _redis_store(backend: RedisBackend) -> StateStore:
    store = StateStore(kind="redis", backend=backend)
    store.breakers = RedisBreakerStore(backend)
    store.limits = RedisLimitStore(backend)
    store.cache = RedisCacheStore(backend)
    # Each concern adds its Redis implementation here.
    store.counters = RedisCounterStore(backend)
    return store
