"""The little of ASGI the stand-in needs: read a request, send answers.

No framework sits here on purpose: benchmarks push thousands of requests per
second through the stand-in, and every layer it does not have is latency it
does not add to the measurements of the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from gateway.standin.faults import Fault
    from gateway.standin.state import StandinState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

JSON_CONTENT_TYPE = (b"content-type", b"application/json")
NO_BODY = object()


class ConnectionDropped(Exception):
    """Raised to make a server other than uvicorn close the connection."""


@dataclass
class Request:
    """A fully read HTTP request."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    json: Any = NO_BODY

    @property
    def has_json(self) -> bool:
        """Whether the body parsed as JSON."""
        return self.json is not NO_BODY


@dataclass
class Exchange:
    """One request in flight, with what its handler needs to answer it."""

    request: Request
    receive: Receive
    send: Send
    state: StandinState
    request_id: str
    fault: Fault | None = None
    streaming: bool = False


async def read_request(scope: Scope, receive: Receive) -> Request:
    """Read the whole body and parse it as JSON when it is JSON."""
    chunks = []
    more_body = True
    while more_body:
        message = await receive()
        chunks.append(message.get("body", b""))
        more_body = message.get("more_body", False)

    body = b"".join(chunks)
    headers = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope["headers"]
    }
    request = Request(
        method=scope["method"],
        path=scope["path"],
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
    )
    if body:
        # A body that is not JSON stays unparsed; each handler decides
        # what that means for it.
        with contextlib.suppress(orjson.JSONDecodeError):
            request.json = orjson.loads(body)

    return request


def declared_length(scope: Scope) -> int:
    """Return the Content-Length the client declared, or 0."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0

    return 0


async def send_body(
    send: Send, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]]
) -> None:
    """Send a complete response."""
    all_headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": all_headers}
    )
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, payload: Any, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Send a JSON response."""
    await send_body(send, status, orjson.dumps(payload), [JSON_CONTENT_TYPE, *headers])


async def start_stream(
    send: Send, content_type: bytes, headers: Iterable[tuple[bytes, bytes]]
) -> None:
    """Start a 200 response whose body follows in pieces."""
    all_headers = [(b"content-type", content_type), *headers]
    await send({"type": "http.response.start", "status": 200, "headers": all_headers})


async def send_chunk(send: Send, data: bytes) -> None:
    """Send one piece of a streamed body."""
    await send({"type": "http.response.body", "body": data, "more_body": True})


async def end_stream(send: Send, data: bytes = b"") -> None:
    """Send the last piece of a streamed body."""
    await send({"type": "http.response.body", "body": data, "more_body": False})


async def drop_connection(send: Send) -> None:
    """Reset the TCP connection, as a crashed upstream or a proxy would.

    ASGI has no message for this. uvicorn's ``send`` is a bound method of its
    request cycle, which holds the transport, so the stand-in aborts that
    with SO_LINGER 0 (a real RST, not a polite FIN). Elsewhere it raises, and
    the server closes the connection its own way.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionDropped("fault: connection dropped")

    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()

    # Let the server see the connection as lost before the app returns, so
    # it does not log an unfinished response as an application error.
    await asyncio.sleep(0)
