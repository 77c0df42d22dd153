"""What the in-process and Redis state implementations share.

``MemoryBackend`` carries the clock that in-process state is timed by; tests
replace it to move time without sleeping. ``RedisBackend`` carries the Redis
connection, with a short deadline per call (``deadline``) and a breaker around
Redis itself (its ``guard``, see ``redis_guard``), and registers the Lua scripts that make every
state change atomic on the server, timed by the server's own clock so replicas
with skewed clocks still agree.

Key layout (Redis Cluster safe): every key starts with ``tg:`` and puts the
part that must live on one shard in a hash tag, e.g. ``tg:{c:42}:rpm`` for a
client's limits or ``tg:{b:anthropic}`` for a breaker, so each script touches
keys of one slot only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from redis.maint_notifications import MaintNotificationsConfig

from gateway.state.deadline import call_within
from gateway.state.redis_guard import (
    CONFIRM_SECONDS,
    GuardedConnectionPool,
    RedisGuard,
)

Clock = Callable[[], float]

KEY_PREFIX = "tg:"

BACKSTOP_SECONDS = 1.0


class StoreUnavailable(Exception):
    """The shared store could not answer in time; callers fall back."""


class MemoryBackend:
    kind = "memory"

    def __init__(self, *, clock: Clock = time.time) -> None:
        self.clock = clock


class RedisBackend:
    kind = "redis"

    def __init__(
        self, url: str, *, connect_timeout: float = 0.1, command_timeout: float = 0.1
    ) -> None:
        self.url = url
        # The deadline of every state-store call, connecting included, is
        # ``command_timeout``, enforced by ``deadline.call_within`` around each
        # call (``resilient.GuardedStore``), which a busy event loop cannot
        # trip by itself. The client's own socket timeouts are only a backstop
        # for calls made without it (tools, tests).
        self.command_timeout = command_timeout
        self._options = {
            "socket_connect_timeout": max(connect_timeout, BACKSTOP_SECONDS),
            "socket_timeout": max(command_timeout, BACKSTOP_SECONDS),
            "health_check_interval": 0,
            "retry_on_timeout": False,
            # A new connection is then ready after the TCP handshake: no HELLO,
            # CLIENT SETINFO or maintenance-notification round trips, which a
            # burst of requests opening connections at once would wait for.
            "protocol": 2,
            "driver_info": None,
            "maint_notifications_config": MaintNotificationsConfig(enabled=False),
        }
        # Every command goes through the guard's pool: while Redis is known to
        # be away it refuses at once instead of waiting for a timeout.
        self.guard = RedisGuard(probe=self._probe)
        pool = GuardedConnectionPool.from_url(url, guard=self.guard, **self._options)
        self.client = aioredis.Redis.from_pool(pool)
        self._probe_client: aioredis.Redis | None = None

    def script(self, source: str):
        """Register a Lua script; calls run it by SHA with EVALSHA."""
        return self.client.register_script(source)

    async def run(self, script, keys: list[str], args: list) -> object:
        """Run a script, turning any Redis failure into ``StoreUnavailable``."""
        try:
            return await script(keys=keys, args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def ping(self) -> bool:
        """Whether Redis answers now; failures are reported to the guard."""
        try:
            answered = bool(await call_within(self.client.ping(), self.command_timeout))
        except (RedisError, OSError, TimeoutError) as exc:
            self.guard.failed("ping", exc)
            return False
        self.guard.succeeded()
        return answered

    async def _probe(self) -> bool:
        # A client of its own, which the guard never refuses, with lenient
        # timeouts: no request waits for a probe.
        if self._probe_client is None:
            options = {
                **self._options,
                "socket_connect_timeout": CONFIRM_SECONDS,
                "socket_timeout": CONFIRM_SECONDS,
            }
            self._probe_client = aioredis.Redis.from_url(self.url, **options)
        try:
            return bool(await self._probe_client.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    async def aclose(self) -> None:
        await self.client.aclose()
        if self._probe_client is not None:
            await self._probe_client.aclose()


def key(*parts: str | int) -> str:
    return KEY_PREFIX + ":".join(str(part) for part in parts)
