"""Refuse request bodies over ``MAX_REQUEST_BYTES`` before they are read in full.

Django's ASGI handler reads the whole body into a file before any middleware
or view runs, so a size check there comes after the gateway has already spent
the memory, disk and time on it. ``BodySizeGuard`` wraps the Django
application instead and sees each ``http.request`` message as the server
delivers it:

- a ``Content-Length`` over the limit is answered with 413 at once, before a
  single body byte is read;
- a chunked body, or one longer than its ``Content-Length`` says, is counted
  as it arrives; the guard answers 413 the moment the count passes the limit,
  reads nothing more, and tells the application the client went away (which
  Django handles quietly).

The 413 carries ``Connection: close`` so the server drops the connection
rather than draining the rest of the upload. Its body uses the error shape of
the surface the client called.

The server in front must pass the body on as it arrives for this to help:
uvicorn (``bin/serve``) does. Daphne (``bin/run``) buffers the whole body
before it calls the application, so ``gateway.daphne_guard`` applies the same
limit inside daphne.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from gateway.conf import config
from gateway.errors import GatewayError, PayloadTooLarge
from gateway.logs import request_id_var
from gateway.middleware import safe_request_id

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_DISCONNECT: Message = {"type": "http.disconnect"}


class BodySizeGuard:
    """ASGI middleware answering 413 for bodies over the configured limit."""

    def __init__(self, app: ASGIApp, *, max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        limit = self.max_bytes or config().MAX_REQUEST_BYTES
        declared = declared_length(scope["headers"])
        if declared is not None and declared > limit:
            await send_too_large(scope, send, limit, received=0)
            return

        body = CountedBody(scope, receive, send, limit)
        await self.app(scope, body.receive, body.send)


class CountedBody:
    """Counts body bytes on their way to the application; stops at the limit."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        self.scope = scope
        self.limit = limit
        self.received = 0
        self.refused = False
        self.response_started = False
        self._receive = receive
        self._send = send

    async def receive(self) -> Message:
        if self.refused:
            return dict(_DISCONNECT)

        message = await self._receive()
        if message["type"] != "http.request":
            return message

        self.received += len(message.get("body", b""))
        if self.received <= self.limit:
            return message

        # Nothing more is read: the application is told the client left, so it
        # stops waiting for the body without answering.
        self.refused = True
        if not self.response_started:
            await send_too_large(self.scope, self._send, self.limit, self.received)
        return dict(_DISCONNECT)

    async def send(self, message: Message) -> None:
        # Once the 413 is out, the application's own answer has nowhere to go.
        if self.refused:
            return
        if message["type"] == "http.response.start":
            self.response_started = True
        await self._send(message)


def declared_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    """The ``Content-Length`` the client declared, if it is one clear number."""
    values = {
        value.strip() for name, value in headers if name.lower() == b"content-length"
    }
    if len(values) != 1:
        return None

    value = values.pop()
    return int(value) if value.isdigit() else None


async def send_too_large(scope: Scope, send: Send, limit: int, received: int) -> None:
    headers = dict(scope.get("headers") or ())
    status, response_headers, body = too_large_response(
        scope.get("path", ""), headers, limit
    )
    log_refusal(scope.get("path", ""), response_headers, limit, received)

    await send(
        {"type": "http.response.start", "status": status, "headers": response_headers}
    )
    await send({"type": "http.response.body", "body": body})


def too_large_response(
    path: str, headers: dict[bytes, bytes], limit: int
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of the 413, in the called surface's shape."""
    error = PayloadTooLarge(
        f"The request body is larger than this gateway's limit of {limit:,} bytes.",
        code="request_too_large",
    )
    return error_response(path, headers, error)


def error_response(
    path: str, headers: dict[bytes, bytes], error: GatewayError
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """An error answered outside Django, in the called surface's shape.

    The connection is closed after it: these errors come before the request
    was read in full or understood.
    """
    # Imported on first use: the renderers' modules pull in the whole request
    # pipeline, which this module's importers (the ASGI entry point, daphne's
    # guard) should not have to load first.
    from gateway.views.chat import render_openai_error
    from gateway.views.rendering import render_anthropic_error

    request_id = safe_request_id(_header(headers, b"x-request-id"))
    response_headers = [(b"x-request-id", request_id.encode())]
    if error_surface(path, headers) == "anthropic":
        response = render_anthropic_error(error, request_id=request_id)
        response_headers.append((b"request-id", request_id.encode()))
    else:
        response = render_openai_error(error)

    response_headers += [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(response.content)).encode()),
        (b"connection", b"close"),
    ]
    return response.status_code, response_headers, response.content


def error_surface(path: str, headers: dict[bytes, bytes]) -> str:
    """Which surface's error shape a request expects, from its path.

    ``/v1/models`` serves both SDKs; like its view, it answers in Anthropic's
    shape when the caller sent an ``anthropic-version`` header.
    """
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/v1/models") and b"anthropic-version" in headers:
        return "anthropic"
    return "openai"


def log_refusal(
    path: str, headers: list[tuple[bytes, bytes]], limit: int, received: int
) -> None:
    request_id = dict(headers)[b"x-request-id"].decode()
    token = request_id_var.set(request_id)
    try:
        logger.warning(
            "request body over the size limit refused",
            extra={
                "path": path[:200],
                "limit_bytes": limit,
                "received_bytes": received,
            },
        )
    finally:
        request_id_var.reset(token)


def _header(headers: dict[bytes, bytes], name: bytes) -> str:
    return headers.get(name, b"").decode("latin-1")
