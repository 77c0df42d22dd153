"""The settlement observer: never raises, never blocks, never leaks content."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from channels.layers import get_channel_layer

from gateway.services.pricing import Usage
from gateway.state.backend import MemoryBackend, RedisBackend
from gateway.state.counter_store import MemoryCounterStore, RedisCounterStore
from gateway.state.store import StateStore
from monitoring.events import GROUP
from monitoring.monitor import Monitor
from monitoring.writer import RecordWriter
from tests.monitoring.factories import settled_exchange


class FakeProvider:
    def is_configured(self) -> bool:
        return True


class FakeDispatcher:
    def __init__(self) -> None:
        self.providers = {"anthropic": FakeProvider()}
        self.states = {"anthropic": "closed", "ollama": "closed"}

    async def breaker_snapshot(self) -> dict:
        return {
            target: {
                "state": state,
                "failures_in_window": 0,
                "cooldown_remaining_s": 0.0,
                "total_trips": 0,
            }
            for target, state in self.states.items()
        }


class FakeClients:
    def take_last_used(self) -> dict:
        return {}


class FakeGateway:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.dispatcher = FakeDispatcher()
        self.clients = FakeClients()
        self.response_cache = None
        self.observers: list = []


class KeptWriter(RecordWriter):
    """Keeps records in memory: these tests have no database."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list = []

    def add(self, record) -> None:
        self.records.append(record)


def memory_monitor() -> Monitor:
    store = StateStore(kind="memory", backend=MemoryBackend())
    store.counters = MemoryCounterStore(store.backend)
    return Monitor(FakeGateway(store), writer=KeptWriter())


@pytest.fixture
async def redis_monitor(redis_server) -> AsyncIterator[Monitor]:
    backend = RedisBackend(f"redis://127.0.0.1:{redis_server.port}/0")
    await backend.client.flushdb()
    store = StateStore(
        kind="redis", backend=backend, counters=RedisCounterStore(backend)
    )
    monitor = Monitor(FakeGateway(store), writer=KeptWriter())
    yield monitor
    monitor.stop()
    await backend.aclose()


async def drain(monitor: Monitor) -> None:
    await asyncio.gather(*list(monitor.publisher._tasks))


async def test_observing_counts_logs_and_queues_a_record() -> None:
    monitor = memory_monitor()

    monitor(settled_exchange(usage=Usage(input_tokens=3, output_tokens=2)))

    assert (await monitor.metrics())["total_requests"] == 1
    assert [r["request_id"] for r in monitor.recent.latest()] == ["req_test"]
    assert len(monitor.writer.records) == 1


async def test_recent_rows_hold_no_prompt_or_key() -> None:
    monitor = memory_monitor()

    monitor(settled_exchange())

    row = monitor.recent.latest()[0]
    assert "secret" not in str(row)
    assert "tg_abcd" not in str(row)
    assert set(row) == {
        "time",
        "request_id",
        "client",
        "surface",
        "model",
        "provider",
        "status",
        "cache",
        "fallback",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "cost_usd",
        "latency_ms",
    }


def test_a_broken_exchange_is_logged_not_raised(caplog) -> None:
    monitor = memory_monitor()
    exchange = settled_exchange()
    exchange.client = None

    monitor(exchange)

    assert "monitoring could not observe a request" in caplog.text


def test_observing_outside_an_event_loop_still_counts() -> None:
    monitor = memory_monitor()

    monitor(settled_exchange())

    assert monitor.local._totals["requests"] == 1


async def test_recent_log_keeps_only_the_latest_requests() -> None:
    monitor = memory_monitor()
    for index in range(150):
        monitor(settled_exchange(request_id=f"req_{index}"))

    latest = monitor.recent.latest(20)

    assert [r["request_id"] for r in latest] == [f"req_{i}" for i in range(130, 150)]


async def test_redis_mode_reads_cluster_totals(redis_monitor: Monitor) -> None:
    redis_monitor(settled_exchange())
    redis_monitor(settled_exchange())
    await drain(redis_monitor)

    metrics = await redis_monitor.metrics()

    assert metrics["total_requests"] == 2
    assert metrics["counters_scope"] == "cluster"


async def test_redis_outage_falls_back_to_process_counts(
    redis_monitor: Monitor, redis_server
) -> None:
    redis_monitor(settled_exchange())
    await drain(redis_monitor)

    redis_server.freeze()
    try:
        redis_monitor(settled_exchange())
        await drain(redis_monitor)
        metrics = await redis_monitor.metrics()
    finally:
        redis_server.thaw()

    assert metrics["counters_scope"] == "process"
    assert metrics["total_requests"] == 2


async def test_series_has_one_point_per_minute_of_the_last_hour() -> None:
    monitor = memory_monitor()
    exchange = settled_exchange(usage=Usage(input_tokens=1_000_000))
    monitor(exchange)

    series = await monitor.series(now=exchange.started_wall)

    assert len(series) == 60
    assert series[-1]["requests"] == 1
    assert series[-1]["cost_usd"] == 1.0
    assert series[0]["requests"] == 0 and series[0]["latency_ms"] is None


async def test_open_dashboards_learn_of_breaker_changes_no_request_revealed() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(GROUP, channel)
    monitor = memory_monitor()
    monitor.dashboard_opened()

    first = await asyncio.wait_for(layer.receive(channel), 3)
    # Another replica trips the shared breaker: no request here shows it.
    monitor.gateway.dispatcher.states["anthropic"] = "open"
    second = await asyncio.wait_for(layer.receive(channel), 3)

    assert first["breakers"]["anthropic"]["state"] == "closed"
    assert second["type"] == "dashboard.breakers"
    assert second["breakers"]["anthropic"]["state"] == "open"
    monitor.dashboard_closed()
    await asyncio.wait_for(monitor._watcher, 3)
    await layer.group_discard(GROUP, channel)
