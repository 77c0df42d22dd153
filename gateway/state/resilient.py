"""Keeping the gateway up while Redis is away.

Three parts work together:

- ``RedisGuard`` (``redis_guard``), one per process: after a Redis failure it
  makes every later Redis call fail at once, without waiting for a timeout,
  until a background probe finds Redis again.
- ``GuardedStore`` wraps each concern's Redis store and tells the guard about
  every ``StoreUnavailable`` it sees, whichever concern it came from, so one
  failure switches every concern of the process at once.
- The services fall back to per-process state on ``StoreUnavailable``, each
  in the way that fits its concern: the limiter keeps limits in process (this
  replica's share of them: ``ProcessLimitStore``), the breaker service keeps
  breakers in process, the response cache treats the lookup as a miss and
  skips storing, and the monitor serves ``/metrics`` from its own counts while
  the Redis counter store keeps the increments that never reached Redis.

The fallback stays with the services rather than in the wrapper because some
state is tied to where it was created: a limiter reservation must be settled,
and a cache lock released, in the store that holds it. A wrapper swapping
stores underneath them would leave in-process locks and reservations that no
one releases (identical requests would then wait on a lock for its full TTL).

Requests therefore never fail, and never wait more than one Redis timeout,
because of Redis. Nothing learned in process is merged back when Redis
returns; the shared state simply resumes.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import replace
from typing import Any

from gateway.conf import config
from gateway.state.backend import MemoryBackend, RedisBackend, StoreUnavailable
from gateway.state.limits_store import (
    HOLD_SECONDS,
    Admission,
    LimitPolicy,
    MemoryLimitStore,
    Reservation,
)
from gateway.state.redis_guard import RedisGuard

NOT_CONFIGURED, OK, ERROR = "not_configured", "ok", "error"

CONCERNS = ("limits", "breakers", "cache", "counters")


class GuardedStore:
    """One concern's Redis store, reporting its failures to the process's guard.

    Coroutine methods are forwarded and their ``StoreUnavailable`` reported,
    then re-raised for the caller's own fallback; anything else (attributes,
    plain methods) is the Redis store's own.
    """

    def __init__(self, concern: str, shared: Any, guard: RedisGuard) -> None:
        self.concern = concern
        self.shared = shared
        self.guard = guard

    def __getattr__(self, name: str) -> Any:
        # Only called for names this class lacks; private names are never
        # forwarded, so copying or pickling cannot recurse into ``shared``.
        if name.startswith("_"):
            raise AttributeError(name)
        attribute = getattr(self.shared, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        async def forward(*args: Any, **kwargs: Any) -> Any:
            try:
                return await getattr(self.shared, name)(*args, **kwargs)
            except StoreUnavailable as exc:
                self.guard.failed(self.concern, exc)
                raise

        forward.__name__ = name
        self.__dict__[name] = forward
        return forward


def with_guard(store: Any) -> Any:
    """Wrap each concern of a Redis ``StateStore`` in a ``GuardedStore``."""
    guard: RedisGuard = store.backend.guard
    guard.cooldown_seconds = config().REDIS_COOLDOWN_SECONDS
    for concern in CONCERNS:
        shared = getattr(store, concern)
        if shared is not None:
            setattr(store, concern, GuardedStore(concern, shared, guard))
    return store


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
    """In-process limits enforcing this replica's share of each client's limits.

    Its windows start empty when an outage starts, and what it spends is
    charged to the shared budget only for reservations settled once Redis is
    back: a client can get up to one extra share of a budget per outage.
    """

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


def process_limit_store(store: Any) -> ProcessLimitStore | None:
    """The limiter's fallback in Redis mode; None (its own default) otherwise."""
    if not isinstance(getattr(store, "backend", None), RedisBackend):
        return None
    return ProcessLimitStore(
        MemoryBackend(),
        replicas=config().EXPECTED_REPLICAS,
        window_seconds=store.limits.window_seconds,
    )


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
