"""The gateway's settlement observer: counters, recent requests, records, events.

``Monitor`` is appended to ``gateway.observers``, so it is called
synchronously with every settled exchange. It does only in-memory work there
(in-process counters, the recent-requests log, the record buffer, the event
batch) and hands anything that talks to Redis or the database to tasks, so a
slow store never delays an answer. It must never raise.

Counters have two scopes. In memory mode the process's own counters are the
totals. In Redis mode the totals come from Redis and cover every replica;
the process still counts for itself, and ``/metrics`` falls back to those
counts, marked ``"counters_scope": "process"``, while Redis is unreachable.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import time
import weakref

from gateway.conf import config
from gateway.services.exchange import Exchange
from gateway.services.pipeline import Gateway
from gateway.state.backend import StoreUnavailable
from gateway.state.counter_store import CounterStore, MemoryCounterStore
from gateway.state.resilient import redis_fallbacks
from monitoring import metrics
from monitoring.events import DashboardPublisher
from monitoring.records import RecentRequests, record_fields, request_row
from monitoring.status import breaker_snapshot, system_status
from monitoring.writer import RecordWriter

logger = logging.getLogger(__name__)

SERIES_MINUTES = 60
BREAKER_POLL_SECONDS = 0.5


class Monitor:
    def __init__(self, gateway: Gateway, *, writer: RecordWriter | None = None) -> None:
        self.gateway = gateway
        store = gateway.store
        counters = store.counters if store is not None else None
        if isinstance(counters, MemoryCounterStore):
            self.local, self.shared = counters, None
        else:
            self.local, self.shared = MemoryCounterStore(), counters
        self.recent = RecentRequests()
        self.writer = writer or RecordWriter(
            take_last_used=gateway.clients.take_last_used,
            interval=config().RECORD_FLUSH_SECONDS,
        )
        self.publisher = DashboardPublisher()
        self._breakers_seen: dict[str, str] = {}
        # True once the breaker service tells us of its state changes itself.
        self.breaker_events = False
        self._watcher: asyncio.Task | None = None
        self._dashboards = 0
        self._shared_failures = 0

    def __call__(self, exchange: Exchange) -> None:
        try:
            self._observe(exchange)
        except Exception:
            logger.exception("monitoring could not observe a request")

    def _observe(self, exchange: Exchange) -> None:
        latency_ms = exchange.latency_ms()
        sample = metrics.exchange_sample(exchange, latency_ms=latency_ms)
        self.local.add(
            totals=sample.totals, minute=sample.minute, per_minute=sample.per_minute
        )

        row = request_row(exchange, latency_ms=latency_ms)
        self.recent.add(row)
        self.writer.add(record_fields(exchange, latency_ms=latency_ms))

        if _loop_running():
            if self.shared is not None:
                self.publisher.spawn(self._record_shared(sample))
            self.publisher.publish_request(row)
            if not self.breaker_events and _may_change_breakers(exchange):
                self.check_breakers()

    async def _record_shared(self, sample: metrics.Sample) -> None:
        try:
            await self.shared.record(
                totals=sample.totals, minute=sample.minute, per_minute=sample.per_minute
            )
            self._shared_failures = 0
        except StoreUnavailable:
            # Logged once per outage, not once per request.
            self._shared_failures += 1
            if self._shared_failures == 1:
                logger.warning(
                    "shared counters unavailable; /metrics shows this process's"
                    " counts until Redis answers again"
                )

    def counters(self) -> tuple[CounterStore, str]:
        if self.shared is not None:
            return self.shared, "cluster"
        return self.local, "process"

    async def totals(self) -> tuple[dict[str, int], str]:
        store, scope = self.counters()
        try:
            return await store.totals(), scope
        except StoreUnavailable:
            return await self.local.totals(), "process"

    async def metrics(self) -> dict:
        """The JSON of ``GET /metrics``."""
        totals, scope = await self.totals()
        breakers = await breaker_snapshot(self.gateway)
        payload = metrics.metrics_payload(
            totals, breakers=breakers, cache_enabled=self.cache_enabled(), scope=scope
        )
        # Per process: how often this process fell back from Redis to its own
        # state; a cluster-wide sum is the scraper's job.
        payload["state_store_fallbacks"] = redis_fallbacks(self.gateway.store)
        return payload

    def cache_enabled(self) -> bool:
        return config().CACHE_ENABLED and self.gateway.response_cache is not None

    async def series(self, *, now: float | None = None) -> list[dict]:
        """Requests, errors, mean latency and spend per minute, last hour."""
        last = int((time.time() if now is None else now) // 60)
        store, _ = self.counters()
        try:
            minutes = await store.series(last_minute=last, count=SERIES_MINUTES)
        except StoreUnavailable:
            minutes = await self.local.series(last_minute=last, count=SERIES_MINUTES)
        first = last - SERIES_MINUTES + 1
        return [_minute_point(m, minutes.get(m, {})) for m in range(first, last + 1)]

    async def snapshot(self) -> dict:
        """Everything a dashboard shows when it connects."""
        return {
            "metrics": await self.metrics(),
            "series": await self.series(),
            "status": await system_status(self.gateway),
            "recent": self.recent.latest(20),
            "time": time.time(),
        }

    def check_breakers(self) -> None:
        """Publish breaker states when they changed since last seen."""
        self.publisher.spawn(self._check_breakers())

    def on_breaker_change(self, target: str, previous: str, state: str) -> None:
        """The breaker service's listener: publish the new states at once."""
        if _loop_running():
            self.check_breakers()

    async def _check_breakers(self) -> None:
        try:
            breakers = await breaker_snapshot(self.gateway)
        except Exception:
            logger.warning("breaker states unavailable", exc_info=True)
            return
        states = {target: b["state"] for target, b in breakers.items()}
        if states != self._breakers_seen:
            self._breakers_seen = states
            await self.publisher.send(
                {"type": "dashboard.breakers", "breakers": breakers}
            )

    def dashboard_opened(self) -> None:
        """Poll breakers while dashboards are open, for changes no local
        request reveals (a cooldown ending, another replica tripping)."""
        self._dashboards += 1
        loop = asyncio.get_running_loop()
        watcher = self._watcher
        if watcher is None or watcher.done() or watcher.get_loop() is not loop:
            self._watcher = loop.create_task(self._watch())

    def dashboard_closed(self) -> None:
        self._dashboards = max(self._dashboards - 1, 0)

    async def _watch(self) -> None:
        while self._dashboards:
            await asyncio.sleep(BREAKER_POLL_SECONDS)
            await self._check_breakers()

    def stop(self) -> None:
        """Stop background work (tests; a server process simply exits)."""
        if self._watcher is not None:
            self._watcher.cancel()
        self.writer.stop()
        atexit.unregister(self.writer.flush_at_exit)


def _minute_point(minute: int, values: dict[str, int]) -> dict:
    requests = values.get(metrics.REQUESTS, 0)
    latency_us = values.get(metrics.LATENCY_US_SUM, 0)
    return {
        "minute": minute * 60,
        "requests": requests,
        "errors": values.get(metrics.ERRORS, 0),
        "latency_ms": round(latency_us / 1000 / requests, 1) if requests else None,
        "cost_usd": metrics.usd(values.get(metrics.COST_NANOS, 0)),
    }


def _may_change_breakers(exchange: Exchange) -> bool:
    # A breaker trips on a failed attempt; a recovery (a canary's success) is
    # picked up by the watcher instead, so a healthy request costs no read.
    return exchange.fallback or any(":error" in a for a in exchange.attempts)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# Every monitor of the process, so a server's shutdown can flush them all
# without building a gateway that was never used.
_monitors: weakref.WeakSet[Monitor] = weakref.WeakSet()


def attach_monitoring(gateway: Gateway) -> Monitor:
    """Observe ``gateway``'s settled requests; flush records at process exit."""
    monitor = Monitor(gateway)
    _monitors.add(monitor)
    gateway.observers.append(monitor)
    listeners = getattr(getattr(gateway.dispatcher, "breaker", None), "listeners", None)
    if listeners is not None:
        listeners.append(monitor.on_breaker_change)
        monitor.breaker_events = True
    atexit.register(monitor.writer.flush_at_exit)
    return monitor


def monitor_for(gateway: Gateway) -> Monitor:
    for observer in gateway.observers:
        if isinstance(observer, Monitor):
            return observer
    return attach_monitoring(gateway)


async def flush_all_records() -> int:
    """Write every monitor's buffered records now (server shutdown)."""
    written = 0
    for monitor in list(_monitors):
        written += await monitor.writer.flush()
    return written
