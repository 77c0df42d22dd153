"""Daphne's request with the body limit, driven through Twisted's HTTP parser."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from twisted.internet.testing import StringTransport
from twisted.web.http import HTTPChannel

from gateway.daphne_guard import GuardedWebRequest

LIMIT = 100


class FakeServer:
    """The parts of daphne's server a request talks to."""

    server_name = "daphne"
    root_path = ""
    request_buffer_size = 8192
    proxy_forwarded_address_header = None

    def __init__(self) -> None:
        self.queues: list[asyncio.Queue] = []

    def protocol_connected(self, protocol: object) -> None:
        pass

    def protocol_disconnected(self, protocol: object) -> None:
        pass

    def log_action(self, protocol: str, action: str, details: dict) -> None:
        pass

    def create_application(self, protocol: object, scope: dict) -> asyncio.Queue:
        self.queues.append(asyncio.Queue())
        return self.queues[-1]

    def body_delivered(self) -> bytes:
        messages = []
        while not self.queues[0].empty():
            messages.append(self.queues[0].get_nowait())
        return b"".join(message.get("body", b"") for message in messages)


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.TOKENSGATE = {**settings.TOKENSGATE, "MAX_REQUEST_BYTES": LIMIT}


@pytest.fixture
def connection():
    server = FakeServer()
    channel = HTTPChannel()
    channel.requestFactory = GuardedWebRequest
    channel.factory = SimpleNamespace(server=server, log=lambda request: None)
    transport = StringTransport()
    channel.makeConnection(transport)
    yield SimpleNamespace(channel=channel, transport=transport, server=server)
    channel.setTimeout(None)


def _head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: gateway", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(transport: StringTransport) -> tuple[bytes, dict]:
    head, _, body = transport.value().partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], json.loads(body)


def test_a_declared_length_over_the_limit_is_refused_at_the_headers(connection):
    connection.channel.dataReceived(
        _head("/v1/messages", "Content-Length: 999999999", "Expect: 100-continue")
    )

    status, body = _answer(connection.transport)
    assert status == b"HTTP/1.1 413 Payload Too Large"
    assert body["error"]["type"] == "request_too_large"
    assert b"100 Continue" not in connection.transport.value()
    assert connection.transport.disconnecting
    assert connection.server.queues == []


def test_a_chunked_body_is_refused_once_it_passes_the_limit(connection):
    channel = connection.channel
    channel.dataReceived(_head("/v1/chat/completions", "Transfer-Encoding: chunked"))
    channel.dataReceived(b"40\r\n" + b"x" * 64 + b"\r\n")
    assert connection.transport.value() == b""

    channel.dataReceived(b"40\r\n" + b"x" * 64 + b"\r\n0\r\n\r\n")

    status, body = _answer(connection.transport)
    assert status.startswith(b"HTTP/1.1 413")
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert connection.server.queues == []


def test_bodies_within_the_limit_reach_the_application_whole(connection):
    body = b'{"model": "auto"}'
    connection.channel.dataReceived(
        _head("/v1/messages", f"Content-Length: {len(body)}") + body
    )

    assert connection.server.body_delivered() == body
    assert connection.transport.value() == b""


def test_malformed_multipart_bodies_reach_the_application(connection):
    body = b"not a multipart body"
    connection.channel.dataReceived(
        _head(
            "/v1/messages",
            "Content-Type: multipart/form-data; boundary=x",
            f"Content-Length: {len(body)}",
        )
        + body
    )

    assert connection.server.body_delivered() == body
    assert b"400 Bad Request" not in connection.transport.value()


def test_daphnes_own_error_pages_use_the_surface_shape(connection):
    body = b"{}"
    connection.channel.dataReceived(
        _head("/v1/messages", f"Content-Length: {len(body)}") + body
    )
    request = connection.channel.requests[0]

    # What daphne does when the application raises before answering.
    request.handle_exception(RuntimeError("boom"))

    status, payload = _answer(connection.transport)
    assert status.startswith(b"HTTP/1.1 500")
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "api_error"
    assert "boom" not in payload["error"]["message"]
