"""Per-process stand-ins for the shared state while Redis is away.

Each concern's Redis store is wrapped in a ``ResilientStore``. A call goes to
Redis; when it raises ``StoreUnavailable`` the wrapper tells the process's
``RedisGuard`` (which then makes every later call fail at once, without
waiting for a timeout, until a probe finds Redis again) and answers from an
in-process store of the same concern instead, built on first need and kept
for the next outage. Requests therefore never fail, and never wait more than
one Redis timeout, because of Redis.

What each concern does meanwhile:

- limits: each process enforces its share of every limit, the shared limit
  divided by ``EXPECTED_REPLICAS`` (at least 1), so the replicas together stay
  near the configured limit. Windows start empty when the outage starts.
- breakers: each process keeps its own breakers, starting closed.
- response cache: each process caches in memory; Redis entries return with it.
- counters: no stand-in. The monitor counts every request in process as well
  and serves ``/metrics`` from those counts, marked as process scope; the Redis
  counter store keeps increments that never reached Redis and sends them once
  it is back.

When Redis returns, calls go to it again. Reservations taken in process are
settled in Redis (which charges their cost to the shared budget and ignores the
unknown window entry), and the other way round; the rest of what the stand-ins
learned is not merged back.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from gateway.conf import config
from gateway.state.backend import MemoryBackend, RedisBackend, StoreUnavailable
from gateway.state.breaker_store import MemoryBreakerStore
from gateway.state.cache_store import MemoryCacheStore
from gateway.state.limits_store import (
    HOLD_SECONDS,
    Admission,
    LimitPolicy,
    MemoryLimitStore,
    Reservation,
)
from gateway.state.redis_guard import RedisGuard

NOT_CONFIGURED, OK, ERROR = "not_configured", "ok", "error"

Fallback = Callable[[Any], Any]


class ResilientStore:
    """One concern's Redis store, answered in process while Redis is away.

    Coroutine methods are forwarded; anything else (attributes, plain methods)
    is the Redis store's own. With no ``fallback`` a failure is reported to the
    guard and re-raised, for callers that have their own per-process answer.
    """

    def __init__(
        self,
        concern: str,
        shared: Any,
        guard: RedisGuard,
        *,
        fallback: Fallback | None = None,
    ) -> None:
        self.concern = concern
        self.shared = shared
        self.guard = guard
        self._make_fallback = fallback
        self._fallback: Any = None

    @property
    def fallback(self) -> Any:
        if self._fallback is None and self._make_fallback is not None:
            self._fallback = self._make_fallback(self.shared)
        return self._fallback

    def __getattr__(self, name: str) -> Any:
        # Only called for names this class lacks; private names are never
        # forwarded, so copying or pickling cannot recurse into ``shared``.
        if name.startswith("_"):
            raise AttributeError(name)
        attribute = getattr(self.shared, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        async def forward(*args: Any, **kwargs: Any) -> Any:
            return await self._call(name, args, kwargs)

        forward.__name__ = name
        self.__dict__[name] = forward
        return forward

    async def _call(self, name: str, args: tuple, kwargs: dict) -> Any:
        try:
            return await getattr(self.shared, name)(*args, **kwargs)
        except StoreUnavailable as exc:
            self.guard.failed(self.concern, exc)
            if self._make_fallback is None:
                raise
        return await getattr(self.fallback, name)(*args, **kwargs)


def process_share(policy: LimitPolicy, replicas: int) -> LimitPolicy:
    """This process's share of a client's limits when replicas cannot coordinate."""
    if replicas <= 1:
        return policy
    return replace(
        policy,
        requests_per_minute=_share(policy.requests_per_minute, replicas),
        tokens_per_minute=_share(policy.tokens_per_minute, replicas),
        max_concurrent=_share(policy.max_concurrent, replicas),
        daily_budget_nanos=_budget_share(policy.daily_budget_nanos, replicas),
        monthly_budget_nanos=_budget_share(policy.monthly_budget_nanos, replicas),
    )


def _share(limit: int, replicas: int) -> int:
    # 0 means unlimited, so a share is never rounded down to it.
    return 0 if limit == 0 else max(1, math.floor(limit / replicas))


def _budget_share(nanos: int | None, replicas: int) -> int | None:
    # None is no budget and 0 allows nothing; both stay as they are.
    return nanos if not nanos else max(1, nanos // replicas)


class ProcessLimitStore(MemoryLimitStore):
    """In-process limits enforcing this replica's share of each client's limits."""

    def __init__(
        self, backend: MemoryBackend, *, replicas: int, window_seconds: float
    ) -> None:
        super().__init__(backend, window_seconds=window_seconds)
        self.replicas = replicas

    async def admit(
        self,
        client_id: int,
        policy: LimitPolicy,
        reservation: Reservation,
        *,
        hold_seconds: float = HOLD_SECONDS,
    ) -> Admission:
        share = process_share(policy, self.replicas)
        return await super().admit(
            client_id, share, reservation, hold_seconds=hold_seconds
        )


def _limits_fallback(shared: Any) -> ProcessLimitStore:
    return ProcessLimitStore(
        MemoryBackend(),
        replicas=config().EXPECTED_REPLICAS,
        window_seconds=shared.window_seconds,
    )


FALLBACKS: dict[str, Fallback | None] = {
    "limits": _limits_fallback,
    "breakers": lambda shared: MemoryBreakerStore(MemoryBackend()),
    "cache": lambda shared: MemoryCacheStore(MemoryBackend()),
    "counters": None,
}


def with_fallbacks(store: Any) -> Any:
    """Wrap each concern of a Redis ``StateStore`` in a ``ResilientStore``."""
    guard: RedisGuard = store.backend.guard
    guard.cooldown_seconds = config().REDIS_COOLDOWN_SECONDS
    for concern, fallback in FALLBACKS.items():
        shared = getattr(store, concern)
        if shared is not None:
            setattr(store, concern, ResilientStore(concern, shared, guard, fallback=fallback))
    return store


async def redis_status(store: Any) -> str:
    """``not_configured``, ``ok``, or ``error`` (the process runs on its own state)."""
    backend = getattr(store, "backend", None)
    if not isinstance(backend, RedisBackend):
        return NOT_CONFIGURED
    return OK if await backend.ping() else ERROR


def redis_fallbacks(store: Any) -> int:
    """How many times this process switched to its own state (a metric)."""
    backend = getattr(store, "backend", None)
    return backend.guard.fallbacks if isinstance(backend, RedisBackend) else 0
