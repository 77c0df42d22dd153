"""The dashboard socket through the real ASGI stack (origin check, session auth)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from gateway.runtime import get_gateway, reset_gateway
from gateway.services.breaker import Permit
from gateway.services.pricing import Usage
from monitoring.monitor import Monitor, monitor_for
from tests.monitoring.factories import settled_exchange
from tokensgate_site.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")


@pytest.fixture
async def monitor() -> AsyncIterator[Monitor]:
    reset_gateway()
    monitor = monitor_for(get_gateway())
    yield monitor
    monitor.stop()
    reset_gateway()


@database_sync_to_async
def session_cookie(*, staff: bool) -> bytes:
    user = User.objects.create_user("ops", password="pw-for-tests", is_staff=staff)
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def open_socket(*headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, "/ws/dashboard/", headers=list(headers)
    )
    return communicator


async def receive_type(communicator: WebsocketCommunicator, kind: str) -> dict:
    """The next message of ``kind``, skipping periodic ones of other kinds."""
    while True:
        message = await communicator.receive_json_from(timeout=3)
        if message["type"] == kind:
            return message


async def test_anonymous_socket_is_refused(monitor: Monitor) -> None:
    communicator = await open_socket(ORIGIN)

    connected, _ = await communicator.connect()

    assert not connected


async def test_non_staff_socket_is_refused(monitor: Monitor) -> None:
    communicator = await open_socket(
        ORIGIN, (b"cookie", await session_cookie(staff=False))
    )

    connected, _ = await communicator.connect()

    assert not connected


async def test_staff_socket_from_another_site_is_refused(monitor: Monitor) -> None:
    cookie = (b"cookie", await session_cookie(staff=True))
    communicator = await open_socket((b"origin", b"https://evil.example"), cookie)

    connected, _ = await communicator.connect()

    assert not connected


async def test_staff_socket_gets_a_snapshot_first(monitor: Monitor) -> None:
    monitor(
        settled_exchange(
            usage=Usage(input_tokens=7, output_tokens=3), request_id="req_before"
        )
    )
    communicator = await open_socket(
        ORIGIN, (b"cookie", await session_cookie(staff=True))
    )

    connected, _ = await communicator.connect()
    snapshot = await communicator.receive_json_from(timeout=3)

    assert connected
    assert snapshot["type"] == "snapshot"
    assert snapshot["metrics"]["total_requests"] == 1
    assert snapshot["metrics"]["circuit_breakers"]["anthropic"]["state"] == "closed"
    assert [row["request_id"] for row in snapshot["recent"]] == ["req_before"]
    assert snapshot["status"]["gateway"] == "ok"
    assert len(snapshot["series"]) == 60
    await communicator.disconnect()


async def test_request_events_arrive_as_requests_settle(monitor: Monitor) -> None:
    communicator = await open_socket(
        ORIGIN, (b"cookie", await session_cookie(staff=True))
    )
    await communicator.connect()
    await receive_type(communicator, "snapshot")

    monitor(settled_exchange(request_id="req_live", usage=Usage(input_tokens=5)))
    event = await receive_type(communicator, "requests")
    refreshed = await receive_type(communicator, "metrics")

    assert [row["request_id"] for row in event["rows"]] == ["req_live"]
    assert event["rows"][0]["client"] == "billing-app"
    assert "secret" not in str(event)
    assert refreshed["metrics"]["total_requests"] == 1
    await communicator.disconnect()


async def test_breaker_events_arrive_when_a_breaker_opens(monitor: Monitor) -> None:
    communicator = await open_socket(
        ORIGIN, (b"cookie", await session_cookie(staff=True))
    )
    await communicator.connect()
    await receive_type(communicator, "snapshot")

    breaker = get_gateway().dispatcher.breaker
    for _ in range(breaker.policy.threshold):
        await breaker.record("anthropic", Permit("anthropic", "allowed"), success=False)
    deadline = asyncio.get_running_loop().time() + 3
    while True:
        event = await receive_type(communicator, "breakers")
        if event["breakers"]["anthropic"]["state"] == "open":
            break
        assert asyncio.get_running_loop().time() < deadline

    assert event["breakers"]["anthropic"]["total_trips"] == 1
    assert event["breakers"]["anthropic"]["cooldown_remaining_s"] > 0
    await communicator.disconnect()
