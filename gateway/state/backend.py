"""What the in-process and Redis state implementations share.

``MemoryBackend`` carries the clock that in-process state is timed by; tests
replace it to move time without sleeping. ``RedisBackend`` carries the Redis
connection, with short timeouts, and registers the Lua scripts that make every
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

Clock = Callable[[], float]

KEY_PREFIX = "tg:"


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
        self.client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=connect_timeout,
            socket_timeout=command_timeout,
            health_check_interval=0,
            retry_on_timeout=False,
        )

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
        try:
            return bool(await self.client.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    async def aclose(self) -> None:
        await self.client.aclose()


def key(*parts: str | int) -> str:
    return KEY_PREFIX + ":".join(str(part) for part in parts)
