"""The state store: one implementation of each concern, in-process or Redis.

Each concern module (``limits_store``, ``breaker_store``, ``cache_store``,
``counter_store``) defines an interface with a ``Memory...`` and a ``Redis...``
implementation; ``build_state_store`` picks the pair matching ``REDIS_URL``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gateway.state.backend import Clock, MemoryBackend, RedisBackend


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
        return _redis_store(RedisBackend(redis_url))
    return _memory_store(MemoryBackend(clock=clock))


def _memory_store(backend: MemoryBackend) -> StateStore:
    store = StateStore(kind="memory", backend=backend)
    # Each concern adds its in-process implementation here.
    return store


def _redis_store(backend: RedisBackend) -> StateStore:
    store = StateStore(kind="redis", backend=backend)
    # Each concern adds its Redis implementation here.
    return store
