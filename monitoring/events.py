"""Publishing dashboard events through the channel layer.

Every dashboard socket joins the ``dashboard`` group; with channels-redis
(``REDIS_URL`` set) a group message sent by one replica reaches sockets held by
every replica. Request rows are batched for a fifth of a second, so a busy
gateway sends a few group messages per second instead of one per request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

GROUP = "dashboard"
BATCH_SECONDS = 0.2
# Rows beyond this in one batch are dropped: the table shows 20 anyway, and
# the counters (not the rows) carry the totals.
BATCH_LIMIT = 50


class DashboardPublisher:
    def __init__(self, *, batch_seconds: float = BATCH_SECONDS) -> None:
        self.batch_seconds = batch_seconds
        self._rows: list[dict] = []
        # The loop a batch is waiting in; a batch is pending while it is set.
        self._flush_loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task] = set()

    def publish_request(self, row: dict) -> None:
        """Queue a request row for the next batch; needs a running loop."""
        loop = asyncio.get_running_loop()
        if len(self._rows) < BATCH_LIMIT:
            self._rows.append(row)
        if self._flush_loop is not loop:
            self._flush_loop = loop
            loop.call_later(self.batch_seconds, self._flush_rows)

    async def send(self, message: dict) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            await layer.group_send(GROUP, message)
        except Exception:
            # The dashboard is a convenience: a channel layer outage (Redis)
            # must never reach the request path; it is logged and skipped.
            logger.warning("dashboard event not delivered", exc_info=True)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a coroutine as a task, holding a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _flush_rows(self) -> None:
        rows, self._rows = self._rows, []
        self._flush_loop = None
        if rows:
            self.spawn(self.send({"type": "dashboard.requests", "rows": rows}))
