"""A breaker around Redis itself, one per gateway process.

Every Redis command of the state store takes a connection from one pool,
``GuardedConnectionPool``. After a command fails (``GuardedStore`` reports
it), the guard opens and the pool refuses every connection at once with
``RedisBypassed``, so while Redis is away no request waits for a timeout: each
concern answers from its per-process stand-in instead. After
``cooldown_seconds`` the next attempt to use Redis starts one background probe
(a ``PING`` on a connection of its own); when it answers, the guard closes and
the shared state is used again. No request ever waits for a probe.

Only the first failure of an outage counts as a fallback (``fallbacks``, shown
in ``/metrics``); failures of calls already under way when the guard opened
change nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError

logger = logging.getLogger(__name__)

CLOSED, OPEN = "closed", "open"

Probe = Callable[[], Awaitable[bool]]


class RedisBypassed(RedisConnectionError):
    """Raised instead of connecting while the guard is open.

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
    ) -> None:
        self.probe = probe
        self.cooldown_seconds = cooldown_seconds
        self.clock = clock
        self.state = CLOSED
        self.fallbacks = 0
        self._retry_at = 0.0
        self._probing: asyncio.Task | None = None

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    def allows(self) -> bool:
        """Whether a command may go to Redis now; starts a probe once one is due."""
        if self.state == CLOSED:
            return True
        if self.clock() >= self._retry_at and not self._probe_running():
            self._start_probe()
        return False

    def failed(self, concern: str, exc: BaseException) -> None:
        """A call to Redis failed: switch this process to its own state."""
        if self.state == OPEN or isinstance(exc.__cause__ or exc, RedisBypassed):
            return

        self.state = OPEN
        self.fallbacks += 1
        self._retry_at = self.clock() + self.cooldown_seconds
        logger.warning(
            "Redis unavailable (%s); limits, breakers and cache are kept per "
            "process until it answers again",
            type(exc.__cause__ or exc).__name__,
            extra={"concern": concern, "redis_fallbacks": self.fallbacks},
        )

    async def probe_now(self) -> bool:
        """Ask Redis once; close the guard if it answers, else wait another cooldown."""
        answered = await self.probe()
        if not answered:
            self._retry_at = self.clock() + self.cooldown_seconds
            return False

        if self.state == OPEN:
            self.state = CLOSED
            logger.info("Redis answers again; shared state resumes")
        return True

    def _probe_running(self) -> bool:
        return self._probing is not None and not self._probing.done()

    def _start_probe(self) -> None:
        # Set before the task runs, so no other caller starts a second probe
        # meanwhile; a fresh context keeps the request's log context out of it.
        self._retry_at = self.clock() + self.cooldown_seconds
        loop = asyncio.get_running_loop()
        self._probing = loop.create_task(
            self.probe_now(), context=contextvars.Context()
        )


class GuardedConnectionPool(ConnectionPool):
    """A connection pool that refuses at once while its guard is open."""

    def __init__(self, *args: object, guard: RedisGuard, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.guard = guard

    async def get_connection(self, *args: object, **kwargs: object):
        if not self.guard.allows():
            raise RedisBypassed("Redis is bypassed until it answers a probe")
        return await super().get_connection(*args, **kwargs)
