"""The body size guard, driven with raw ASGI messages."""

from __future__ import annotations

import json

import pytest

from gateway.asgi_guard import BodySizeGuard, declared_length

LIMIT = 100


class RecordingApp:
    """An application that reads the whole body, then answers 200."""

    def __init__(self) -> None:
        self.called = False
        self.body = b""
        self.saw_disconnect = False

    async def __call__(self, scope, receive, send) -> None:
        self.called = True
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.saw_disconnect = True
                return
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


class Client:
    """Feeds body messages and records what the guard sends and reads."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.read = 0
        self.sent: list[dict] = []

    async def receive(self) -> dict:
        if not self.chunks:
            return {"type": "http.disconnect"}
        chunk = self.chunks.pop(0)
        self.read += 1
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return self.sent[0]["status"]

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])

    def json(self) -> dict:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


def http_scope(path: str = "/v1/chat/completions", **headers: str) -> dict:
    raw = [
        (k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()
    ]
    return {"type": "http", "method": "POST", "path": path, "headers": raw}


async def run(scope: dict, chunks: list[bytes]) -> tuple[RecordingApp, Client]:
    app, client = RecordingApp(), Client(chunks)
    await BodySizeGuard(app, max_bytes=LIMIT)(scope, client.receive, client.send)
    return app, client


async def test_declared_length_over_the_limit_is_refused_without_reading():
    app, client = await run(http_scope(content_length="101"), [b"x" * 101])

    assert client.status == 413
    assert client.read == 0
    assert not app.called


async def test_openai_paths_get_the_openai_error_shape():
    _, client = await run(http_scope(content_length="5000"), [])

    error = client.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "request_too_large"
    assert "100 bytes" in error["message"]


async def test_messages_paths_get_the_anthropic_error_shape():
    scope = http_scope("/v1/messages/count_tokens", content_length="5000")
    _, client = await run(scope, [])

    body = client.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "request_too_large"
    assert body["request_id"] == client.headers[b"request-id"].decode()


async def test_models_answers_anthropic_callers_in_their_shape():
    scope = http_scope(
        "/v1/models", content_length="5000", anthropic_version="2023-06-01"
    )
    _, client = await run(scope, [])

    assert client.json()["type"] == "error"


async def test_a_well_formed_request_id_is_echoed():
    scope = http_scope(content_length="5000", x_request_id="trace-42")
    _, client = await run(scope, [])

    assert client.headers[b"x-request-id"] == b"trace-42"


async def test_the_refusal_closes_the_connection():
    _, client = await run(http_scope(content_length="5000"), [])

    assert client.headers[b"connection"] == b"close"
    assert int(client.headers[b"content-length"]) == len(client.sent[1]["body"])


async def test_chunked_body_is_cut_off_at_the_limit():
    chunks = [b"x" * 40] * 10
    app, client = await run(http_scope(), chunks)

    assert client.status == 413
    assert client.read == 3
    assert app.saw_disconnect
    assert len(client.sent) == 2


async def test_understated_content_length_is_counted_too():
    app, client = await run(http_scope(content_length="10"), [b"x" * 60, b"x" * 60])

    assert client.status == 413
    assert app.saw_disconnect


async def test_bodies_up_to_the_limit_pass_through_whole():
    app, client = await run(http_scope(), [b"x" * 50, b"y" * 50])

    assert client.status == 200
    assert app.body == b"x" * 50 + b"y" * 50


async def test_websockets_pass_through_untouched():
    app, client = RecordingApp(), Client([b"x" * 500])
    scope = {"type": "websocket", "path": "/ws/dashboard/", "headers": []}

    await BodySizeGuard(app, max_bytes=LIMIT)(scope, client.receive, client.send)

    assert app.body == b"x" * 500


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"content-length", b"42")], 42),
        ([(b"content-length", b" 42 ")], 42),
        ([], None),
        ([(b"content-length", b"-1")], None),
        ([(b"content-length", b"4e3")], None),
        ([(b"content-length", b"1"), (b"content-length", b"2")], None),
        ([(b"content-length", b"7"), (b"content-length", b"7")], 7),
    ],
)
def test_declared_length_trusts_only_one_clear_number(headers, expected):
    assert declared_length(headers) == expected
