"""Request records: batched writes off the request path, and pruning."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import DataError, OperationalError

from gateway.models import ApiClient
from gateway.services.pricing import Usage
from monitoring.models import RequestRecord
from monitoring.records import build_record, record_fields
from monitoring.writer import RecordWriter
from tests.monitoring.factories import client_profile, settled_exchange

pytestmark = pytest.mark.django_db(transaction=True)


def make_client(name: str = "billing-app") -> ApiClient:
    return ApiClient.objects.create(name=name, key_prefix="tg_x", key_hash=name * 2)


def record_for(client: ApiClient, **kwargs) -> dict:
    exchange = settled_exchange(client=client_profile(client.pk, client.name), **kwargs)
    return record_fields(exchange, latency_ms=exchange.latency_ms())


async def test_flush_writes_buffered_records_with_their_figures() -> None:
    client = await asyncio.to_thread(make_client)
    writer = RecordWriter()
    usage = Usage(input_tokens=100, output_tokens=20, cache_read_tokens=50)
    writer.add(record_for(client, usage=usage, request_id="req_1"))
    writer.add(record_for(client, status=503, request_id="req_2"))

    assert await writer.flush() == 2

    rows = await asyncio.to_thread(
        lambda: list(RequestRecord.objects.order_by("request_id").values())
    )
    assert [r["request_id"] for r in rows] == ["req_1", "req_2"]
    assert rows[0]["client_id"] == client.pk
    assert (
        rows[0]["input_tokens"],
        rows[0]["output_tokens"],
        rows[0]["cached_tokens"],
    ) == (100, 20, 50)
    # 100 in at $1/M + 20 out at $5/M + 50 cached at $0.10/M
    assert str(rows[0]["cost_usd"]) == "0.000205000"
    assert rows[1]["status"] == 503
    assert writer.pending == 0


async def test_records_are_written_in_the_background() -> None:
    client = await asyncio.to_thread(make_client)
    writer = RecordWriter(interval=0.05)
    writer.add(record_for(client))

    deadline = time.monotonic() + 5
    while writer.pending and time.monotonic() < deadline:
        await asyncio.sleep(0.02)

    assert await asyncio.to_thread(RequestRecord.objects.count) == 1


async def test_a_failed_write_keeps_records_for_the_next_attempt() -> None:
    client = await asyncio.to_thread(make_client)
    attempts: list[int] = []

    def flaky_create(batch: list[RequestRecord]) -> None:
        attempts.append(len(batch))
        if len(attempts) == 1:
            raise OperationalError("database restarting")
        RequestRecord.objects.bulk_create(batch)

    writer = RecordWriter(create=flaky_create)
    writer.add(record_for(client))

    assert await writer.flush() == 0
    assert await writer.flush() == 1
    assert attempts == [1, 1]


async def test_a_refused_record_does_not_hold_back_the_others() -> None:
    client = await asyncio.to_thread(make_client)

    def picky_create(batch: list[RequestRecord]) -> None:
        if any(record.request_id == "req_bad" for record in batch):
            raise DataError("value out of range")
        RequestRecord.objects.bulk_create(batch)

    writer = RecordWriter(create=picky_create)
    for request_id in ("req_1", "req_bad", "req_2"):
        writer.add(record_for(client, request_id=request_id))

    await writer.flush()

    saved = await asyncio.to_thread(
        lambda: sorted(RequestRecord.objects.values_list("request_id", flat=True))
    )
    assert saved == ["req_1", "req_2"]
    assert writer.pending == 0


def test_flush_now_writes_without_an_event_loop() -> None:
    # The exit-time path: no loop is running, the ORM is called directly.
    client = make_client()
    writer = RecordWriter(batch_size=2)
    for index in range(5):
        writer.add(record_for(client, request_id=f"req_{index}"))

    assert writer.flush_now() == 5
    assert RequestRecord.objects.count() == 5


def test_a_deleted_clients_record_keeps_its_name() -> None:
    client = make_client("gone-app")
    record = record_for(client)
    client.delete()

    writer = RecordWriter()
    writer.add(record)
    writer.flush_now()

    saved = RequestRecord.objects.get()
    assert saved.client_id is None
    assert saved.client_name == "gone-app"


def test_flush_records_clients_last_use() -> None:
    client = make_client()
    seen = time.time()
    writer = RecordWriter(take_last_used=lambda: {client.pk: seen})

    writer.flush_now()

    client.refresh_from_db()
    assert client.last_used_at == datetime.fromtimestamp(seen, tz=UTC)


def test_prune_records_deletes_only_older_records(capsys) -> None:
    client = make_client()
    old = build_record(record_for(client, request_id="old"))
    new = build_record(record_for(client, request_id="new"))
    old.time = datetime.now(tz=UTC) - timedelta(days=40)
    RequestRecord.objects.bulk_create([old, new])

    call_command("prune_records", "--older-than-days", "30")

    assert list(RequestRecord.objects.values_list("request_id", flat=True)) == ["new"]
    assert "Deleted 1 request records" in capsys.readouterr().out


def test_written_rows_match_what_bulk_create_writes() -> None:
    client = make_client()
    usage = Usage(input_tokens=100, output_tokens=20, cache_write_5m_tokens=7)
    fields = [
        record_for(client, usage=usage, attempts=["anthropic:error", "ollama:ok"]),
        record_for(client, status=429, cost_avoided_nanos=-1234, fallback=True),
    ]
    RequestRecord.objects.bulk_create([build_record(f) for f in fields])
    expected = list(RequestRecord.objects.order_by("id").values())
    RequestRecord.objects.all().delete()

    writer = RecordWriter()
    for record in fields:
        writer.add(record)
    writer.flush_now()

    written = list(RequestRecord.objects.order_by("id").values())
    strip = [{k: v for k, v in row.items() if k != "id"} for row in written]
    assert strip == [{k: v for k, v in row.items() if k != "id"} for row in expected]
