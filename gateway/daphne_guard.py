"""The request body limit inside daphne.

Daphne (through Twisted) receives the whole request body into a file before
it calls the ASGI application, so ``gateway.asgi_guard`` alone would only see
an oversized upload after it had been read in full. ``GuardedWebRequest``
applies the same limit where Twisted hands over the body:

- ``gotLength`` runs as soon as the headers are in: a ``Content-Length`` over
  the limit is refused there, before any body byte is read;
- ``handleContentChunk`` counts the bytes of chunked bodies as they arrive and
  refuses at the limit.

A refusal writes the same 413 the ASGI guard sends, then closes the
connection; nothing of the request reaches the application.

It also stops Twisted from parsing form posts itself (see
``requestReceived``), so every body, however malformed, reaches the
application, and renders daphne's own refusals (``basic_error``) in the
surface's error shape rather than as HTML.

Daphne has no setting for its request class, so ``install`` replaces the
module attribute its protocol factory reads when it builds each connection.
This is a deliberate, version-bound compromise: requirements pin daphne below
5, and tests/security/test_body_limit_live.py fails if an upgrade stops the
refusal from happening.
"""

from __future__ import annotations

from daphne import http_protocol

from gateway.asgi_guard import error_response, log_refusal, too_large_response
from gateway.conf import config
from gateway.errors import GatewayError, InvalidRequest

_REASON = b"Payload Too Large"


class GuardedWebRequest(http_protocol.WebRequest):
    """Daphne's request, refusing bodies over ``MAX_REQUEST_BYTES`` early."""

    body_received = 0
    body_refused = False

    def gotLength(self, length: int | None) -> None:
        limit = config().MAX_REQUEST_BYTES
        if length is not None and length > limit:
            self.refuse_body(limit)
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.body_refused:
            return

        self.body_received += len(data)
        limit = config().MAX_REQUEST_BYTES
        if self.body_received > limit:
            self.refuse_body(limit)
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        # The rest of a refused body may sit in the buffer Twisted is still
        # parsing; it must not become a request for the application.
        if self.body_refused:
            return

        # Twisted parses form posts for its own resources, which daphne never
        # reads; a malformed multipart body would get a bare 400 from it with
        # no error shape and no request id. The application judges bodies.
        self._parsePOSTFormSubmission = False
        super().requestReceived(command, path, version)

    def basic_error(self, status: int, status_text: bytes, body: str) -> None:
        """Daphne's own error pages (a path or query it cannot decode, an
        application that raised), in the surface's shape instead of HTML."""
        error = InvalidRequest(body) if status < 500 else GatewayError(body)
        error.status = status
        path = self.path.decode("latin-1") if isinstance(self.path, bytes) else "/"
        status, headers, content = error_response(path, _request_headers(self), error)

        self.handle_reply(
            {"type": "http.response.start", "status": status, "headers": headers}
        )
        self.handle_reply({"type": "http.response.body", "body": content})

    def refuse_body(self, limit: int) -> None:
        self.body_refused = True
        self.content = None
        # Twisted would otherwise send "100 Continue" right after the 413.
        self.requestHeaders.removeHeader(b"Expect")

        path = _request_path(self.channel)
        status, headers, body = too_large_response(path, _request_headers(self), limit)
        log_refusal(path, headers, limit, self.body_received)
        transport = self.channel.transport
        transport.write(_raw_response(status, headers, body))
        transport.loseConnection()


def install() -> None:
    """Make daphne build every request it receives as a ``GuardedWebRequest``."""
    http_protocol.WebRequest = GuardedWebRequest


def _request_path(channel: object) -> str:
    # Twisted keeps the request line on the channel until the body is in.
    raw = getattr(channel, "_path", b"") or b""
    return raw.split(b"?", 1)[0].decode("latin-1")


def _request_headers(request: http_protocol.WebRequest) -> dict[bytes, bytes]:
    return {
        name.lower(): values[-1]
        for name, values in request.requestHeaders.getAllRawHeaders()
    }


def _raw_response(
    status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> bytes:
    lines = [b"HTTP/1.1 %d %s" % (status, _REASON)]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
