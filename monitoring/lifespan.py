"""ASGI lifespan: flush request records when a server shuts down.

Servers that speak the lifespan protocol (uvicorn, hypercorn, granian) send
``lifespan.shutdown`` once in-flight requests are done; recent uvicorn then
re-raises the SIGTERM it caught, so the process dies of the signal and
``atexit`` handlers never run. Flushing here covers them. Daphne does not speak
lifespan; it exits normally and the ``atexit`` flush covers it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from monitoring.monitor import flush_all_records

logger = logging.getLogger(__name__)

Message = MutableMapping[str, Any]


async def lifespan_application(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            written = await flush_all_records()
            logger.info(
                "request records flushed at shutdown", extra={"records": written}
            )
            await send({"type": "lifespan.shutdown.complete"})
            return
