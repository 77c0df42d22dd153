"""Keeping the gateway up while Redis is away.

Three parts work together:

- ``RedisGuard`` (``redis_guard``), one per process: after a Redis failure
  (a timeout only once confirmed) it makes every later Redis call fail at
  once, without waiting for a timeout, until a background probe finds Redis
  again; and a request that already waited for Redis once does not try again.
- ``GuardedStore`` wraps each concern's Redis store and tells the guard about
  every ``StoreUnavailable`` it sees, whichever concern it came from, so one
  failure switches every concern of the process at once.
- Each concern then carries on with per-process state, in the way that fits
  it: limits through ``limits_fallback.FallbackLimitStore`` (this replica's
  share of every limit), breakers through the breaker service's own
  in-process breakers, the response cache by treating lookups as misses and
  skipping stores, and counters through the monitor's own counts (the Redis
  counter store keeps the increments that never reached Redis and sends them
  once it is back).

The fallbacks are per concern rather than one generic swap of stores because
some state is tied to where it was made: a reservation must be settled, and a
cache lock released, in the store that holds it. Swapping stores underneath
the callers left in-process locks nobody released (identical requests then
waited on them for the lock's full TTL).

Requests therefore never fail, and never wait more than one Redis timeout,
because of Redis. Nothing learned in process is merged back when Redis
returns; the shared state simply resumes.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from gateway.conf import config
from gateway.state.backend import MemoryBackend, RedisBackend, StoreUnavailable
from gateway.state.deadline import call_within
from gateway.state.limits_fallback import FallbackLimitStore, ProcessLimitStore
from gateway.state.redis_guard import RedisGuard

logger = logging.getLogger(__name__)

NOT_CONFIGURED, OK, ERROR = "not_configured", "ok", "error"

CONCERNS = ("limits", "breakers", "cache", "counters")


class GuardedStore:
    """One concern's Redis store, reporting its failures to the process's guard.

    Coroutine methods are forwarded and their ``StoreUnavailable`` reported,
    then re-raised for the caller's own fallback; anything else (attributes,
    plain methods) is the Redis store's own.
    """

    def __init__(
        self, concern: str, shared: Any, guard: RedisGuard, *, timeout: float
    ) -> None:
        self.concern = concern
        self.shared = shared
        self.guard = guard
        self.timeout = timeout

    def __getattr__(self, name: str) -> Any:
        # Only called for names this class lacks; private names are never
        # forwarded, so copying or pickling cannot recurse into ``shared``.
        if name.startswith("_"):
            raise AttributeError(name)
        attribute = getattr(self.shared, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        async def forward(*args: Any, **kwargs: Any) -> Any:
            call = getattr(self.shared, name)(*args, **kwargs)
            try:
                result = await call_within(call, self.timeout)
            except TimeoutError as exc:
                error = StoreUnavailable(f"Redis did not answer within {self.timeout}s")
                self._failed(name, _caused_by(error, exc))
                raise error from exc
            except StoreUnavailable as exc:
                self._failed(name, exc)
                raise
            self.guard.succeeded()
            return result

        forward.__name__ = name
        self.__dict__[name] = forward
        return forward

    def _failed(self, method: str, exc: StoreUnavailable) -> None:
        logger.debug(
            "Redis call failed",
            extra={
                "concern": self.concern,
                "method": method,
                "error": type(exc.__cause__ or exc).__name__,
            },
        )
        self.guard.failed(self.concern, exc)


def _caused_by(error: StoreUnavailable, cause: BaseException) -> StoreUnavailable:
    error.__cause__ = cause
    return error


def with_guard(store: Any) -> Any:
    """Wrap each concern of a Redis ``StateStore`` in a ``GuardedStore``.

    Limits get their in-process fallback here too: the limiter has none of
    its own.
    """
    guard: RedisGuard = store.backend.guard
    guard.cooldown_seconds = config().REDIS_COOLDOWN_SECONDS
    for concern in CONCERNS:
        shared = getattr(store, concern)
        if shared is not None:
            timeout = store.backend.command_timeout
            setattr(
                store, concern, GuardedStore(concern, shared, guard, timeout=timeout)
            )

    if store.limits is not None:
        store.limits = FallbackLimitStore(store.limits, _process_limits(store))
    return store


def _process_limits(store: Any) -> ProcessLimitStore:
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
