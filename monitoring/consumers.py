"""``ws /ws/dashboard/``: the live dashboard's socket.

Only active staff users may connect (the admin session cookie, through
``AuthMiddlewareStack``); anyone else is refused before the handshake
completes. A connected socket first receives a ``snapshot``, then ``requests``
batches and ``breakers`` changes as they happen, and a fresh ``metrics``
message at most once a second while traffic flows (and every few seconds
regardless, for the charts and cooldown countdowns).
"""

from __future__ import annotations

import asyncio
import logging

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from gateway.runtime import get_gateway
from monitoring.events import GROUP
from monitoring.monitor import Monitor, monitor_for

logger = logging.getLogger(__name__)

METRICS_MIN_INTERVAL = 1.0
METRICS_IDLE_INTERVAL = 5.0
REFUSED = 4403


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    monitor: Monitor
    _refresher: asyncio.Task | None = None
    _refresh_due: asyncio.Event

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not (user.is_active and user.is_staff):
            await self.close(code=REFUSED)
            return

        self.monitor = monitor_for(get_gateway())
        self._refresh_due = asyncio.Event()
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()
        self.monitor.dashboard_opened()
        self._refresher = asyncio.create_task(self._refresh_metrics())

        # Group events wait until ``connect`` returns, so none overtakes this.
        await self.send_json({"type": "snapshot", **await self.monitor.snapshot()})

    async def disconnect(self, code: int) -> None:
        if self._refresher is None:
            return  # refused before it was accepted
        self._refresher.cancel()
        self.monitor.dashboard_closed()
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive_json(self, content: dict, **kwargs) -> None:
        # The dashboard only listens; a "refresh" asks for a new snapshot.
        if content.get("type") == "refresh":
            await self.send_json({"type": "snapshot", **await self.monitor.snapshot()})

    async def dashboard_requests(self, event: dict) -> None:
        await self.send_json({"type": "requests", "rows": event["rows"]})
        self._refresh_due.set()

    async def dashboard_breakers(self, event: dict) -> None:
        await self.send_json({"type": "breakers", "breakers": event["breakers"]})

    async def _refresh_metrics(self) -> None:
        """Send metrics after traffic, at most once a second, and when idle."""
        while True:
            try:
                await asyncio.wait_for(self._refresh_due.wait(), METRICS_IDLE_INTERVAL)
            except TimeoutError:
                pass
            self._refresh_due.clear()
            try:
                await self.send_json(
                    {
                        "type": "metrics",
                        "metrics": await self.monitor.metrics(),
                        "series": await self.monitor.series(),
                    }
                )
            except Exception:
                logger.warning("dashboard metrics refresh failed", exc_info=True)
            await asyncio.sleep(METRICS_MIN_INTERVAL)
