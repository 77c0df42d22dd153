"""A breaker around Redis itself, one per gateway process.

Every Redis command of the state store takes a connection from one pool,
``GuardedConnectionPool``, which refuses at once (``RedisBypassed``, without
touching the network) in two cases:

- **The guard is open.** Redis failed, and each concern answers from
  per-process state instead. After ``cooldown_seconds`` the next attempt to use
  Redis starts one background probe (a ``PING`` on a connection of its own);
  when it answers, the guard closes and the shared state is used again.
- **This request already waited for Redis once.** A failure is remembered in
  the request's context for one cooldown, so a request never waits for more
  than one Redis timeout, whatever the guard decides meanwhile.

What opens the guard:

- a connection error (refused, reset, Redis loading): at once;
- a timeout: only once confirmed. A timeout can also mean that this process
  was too busy to read a reply in time (a burst of requests, a long garbage
  collection); falling back then would loosen every limit for nothing. So a
  timeout starts a confirmation: a probe with a lenient timeout, and a look,
  ``CONFIRM_SECONDS`` later, at what the other calls did meanwhile. The guard
  opens if the probe got no answer, or if further calls timed out and none
  succeeded (Redis answers, but too slowly to be of use).

Each opening counts as one fallback (``fallbacks``); failures of calls already
under way when the guard opened change nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

CLOSED, OPEN = "closed", "open"

# How long a timeout is watched before it opens the guard; also the probe's
# own timeout, which is lenient because no request waits for it.
CONFIRM_SECONDS = 0.5

Probe = Callable[[], Awaitable[bool]]
Sleep = Callable[[float], Awaitable[None]]

# When the current request (or task) last saw Redis fail.
_failed_at: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "redis_failed_at", default=None
)


class RedisBypassed(RedisConnectionError):
    """Raised instead of connecting while Redis is known to be unusable.

    A connection error, so stores that keep what surely never reached Redis
    (the counters) keep it.
    """


class RedisGuard:
    def __init__(
        self,
        *,
        probe: Probe,
        cooldown_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.probe = probe
        self.cooldown_seconds = cooldown_seconds
        self.clock = clock
        self.sleep = sleep
        self.state = CLOSED
        self.fallbacks = 0
        self.successes = 0
        self.timeouts = 0
        self._retry_at = 0.0
        self._probing: asyncio.Task | None = None
        self._confirming: asyncio.Task | None = None

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    def allows(self) -> bool:
        """Whether this call may go to Redis now; starts a due probe."""
        failed_at = _failed_at.get()
        if failed_at is not None and self.clock() - failed_at < self.cooldown_seconds:
            return False
        if self.state == CLOSED:
            return True
        if self.clock() >= self._retry_at and not _running(self._probing):
            self._retry_at = self.clock() + self.cooldown_seconds
            self._probing = _spawn(self._recover())
        return False

    def succeeded(self) -> None:
        self.successes += 1

    def failed(self, concern: str, exc: BaseException) -> None:
        """A call to Redis failed: remember it for the request, maybe open."""
        cause = exc.__cause__ or exc
        if isinstance(cause, RedisBypassed):
            return
        _failed_at.set(self.clock())
        if self.state == OPEN:
            return

        if not isinstance(cause, RedisTimeoutError | TimeoutError):
            self._open(concern, cause)
        elif not _running(self._confirming):
            self._confirming = _spawn(self._confirm(concern, cause))
        else:
            self.timeouts += 1

    async def _confirm(self, concern: str, cause: BaseException) -> None:
        started, successes, timeouts = self.clock(), self.successes, self.timeouts
        answered = await self.probe()
        await self.sleep(max(0.0, started + CONFIRM_SECONDS - self.clock()))

        too_slow = self.successes == successes and self.timeouts > timeouts
        if self.state == CLOSED and (not answered or too_slow):
            self._open(concern, cause)

    async def _recover(self) -> None:
        if await self.probe() and self.state == OPEN:
            self.state = CLOSED
            logger.info("Redis answers again; shared state resumes")

    def _open(self, concern: str, cause: BaseException) -> None:
        self.state = OPEN
        self.fallbacks += 1
        self._retry_at = self.clock() + self.cooldown_seconds
        logger.warning(
            "Redis unavailable (%s); limits, breakers and cache are kept per "
            "process until it answers again",
            type(cause).__name__,
            extra={"concern": concern, "redis_fallbacks": self.fallbacks},
        )


def _running(task: asyncio.Task | None) -> bool:
    return task is not None and not task.done()


def _spawn(coroutine: Awaitable[None]) -> asyncio.Task:
    # A fresh context: the probe belongs to no request, and must neither carry
    # a request's log context nor inherit its "already failed" mark.
    loop = asyncio.get_running_loop()
    return loop.create_task(coroutine, context=contextvars.Context())


class GuardedConnectionPool(ConnectionPool):
    """A connection pool that refuses at once when its guard says so."""

    def __init__(self, *args: object, guard: RedisGuard, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.guard = guard

    async def get_connection(self, *args: object, **kwargs: object):
        if not self.guard.allows():
            raise RedisBypassed("Redis is bypassed until it answers a probe")
        return await super().get_connection(*args, **kwargs)
