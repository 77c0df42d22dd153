"""The stand-in's ASGI application: routing, faults and error rendering.

One application serves the Anthropic API, Ollama's native and
OpenAI-compatible APIs, and the control API, on one port. Each route names
its surface, which decides the shape of its errors and whether a request
streams when it does not say.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateway.standin import anthropic_api, control, ollama_api, openai_api
from gateway.standin.asgi import (
    Exchange,
    Receive,
    Request,
    Scope,
    Send,
    declared_length,
    read_request,
    send_json,
)
from gateway.standin.delivery import apply_fault_before_headers, pause_before_answer
from gateway.standin.errors import (
    StandinError,
    anthropic_error,
    ollama_error,
    openai_error,
)
from gateway.standin.replies import new_id
from gateway.standin.state import StandinOptions, StandinState

# Anthropic's limit on a Messages request body (the vendors' API references).
MAX_BODY_BYTES = 32 * 1024 * 1024
RETRY_AFTER_STATUSES = (429, 503, 529)

Handler = Callable[[Exchange], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    """A handler, the API surface it belongs to, and its streaming default."""

    handler: Handler
    surface: str
    streams_by_default: bool = False


ROUTES = {
    ("POST", "/v1/messages"): Route(anthropic_api.create_message, "anthropic"),
    ("POST", "/v1/messages/count_tokens"): Route(
        anthropic_api.count_tokens, "anthropic"
    ),
    ("GET", "/v1/models"): Route(anthropic_api.list_models, "anthropic"),
    ("POST", "/v1/chat/completions"): Route(openai_api.create_completion, "openai"),
    ("GET", "/"): Route(ollama_api.root, "ollama"),
    ("HEAD", "/"): Route(ollama_api.root, "ollama"),
    ("GET", "/api/tags"): Route(ollama_api.list_tags, "ollama"),
    ("GET", "/api/version"): Route(ollama_api.version, "ollama"),
    ("POST", "/api/chat"): Route(ollama_api.chat, "ollama", streams_by_default=True),
    ("GET", "/_control/stats"): Route(control.stats, "control"),
    ("POST", "/_control/reset"): Route(control.reset, "control"),
    ("GET", "/_control/faults"): Route(control.faults, "control"),
    ("POST", "/_control/faults"): Route(control.faults, "control"),
    ("GET", "/_control/config"): Route(control.config, "control"),
    ("POST", "/_control/config"): Route(control.config, "control"),
}
MODEL_ROUTE = Route(anthropic_api.get_model, "anthropic")


def build_app(options: StandinOptions | None = None) -> StandinApp:
    """Build the stand-in application with its own, empty state."""
    return StandinApp(options or StandinOptions())


class StandinApp:
    """The ASGI callable; ``state`` is open for in-process inspection."""

    def __init__(self, options: StandinOptions) -> None:
        self.state = StandinState(options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _run_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return

        route = find_route(scope["method"], scope["path"])
        exchange = Exchange(
            _empty_request(scope), receive, send, self.state, new_id("req_")
        )
        try:
            await self._handle(scope, route, exchange)
        except StandinError as error:
            await send_error(exchange, route.surface, error)

    async def _handle(self, scope: Scope, route: Route, exchange: Exchange) -> None:
        if declared_length(scope) > MAX_BODY_BYTES:
            # Refuse before reading, as the API does; the connection closes
            # because the unread body makes it unusable.
            self.state.stats.record(exchange.request)
            raise StandinError(413)

        exchange.request = await read_request(scope, exchange.receive)
        if route.surface == "control":
            await route.handler(exchange)
            return

        self.state.stats.record(exchange.request)
        exchange.fault = self.state.faults.take(exchange.request.path)
        exchange.streaming = _wants_stream(exchange.request, route)

        await pause_before_answer(exchange)
        if await apply_fault_before_headers(exchange):
            return

        await route.handler(exchange)


def find_route(method: str, path: str) -> Route:
    """Match a request to its route, or to a 404 in the right shape."""
    route = ROUTES.get((method, path))
    if route is not None:
        return route

    if method == "GET" and path.startswith("/v1/models/"):
        return MODEL_ROUTE

    return Route(_not_found, _surface_for_path(path))


async def send_error(exchange: Exchange, surface: str, error: StandinError) -> None:
    """Render an error in the shape of the surface the request came in on."""
    headers = []
    if error.retry_after is not None and error.status in RETRY_AFTER_STATUSES:
        headers.append((b"retry-after", b"%g" % error.retry_after))
    if error.status == 413:
        headers.append((b"connection", b"close"))

    request_id = exchange.request_id.encode()
    payload: dict[str, Any]
    if surface == "anthropic":
        payload = anthropic_error(error, exchange.request_id)
        headers.append((b"request-id", request_id))
    elif surface == "openai":
        payload = openai_error(error)
        headers.append((b"x-request-id", request_id))
    else:
        payload = ollama_error(error)

    await send_json(exchange.send, error.status, payload, headers)


async def _not_found(exchange: Exchange) -> None:
    request = exchange.request
    raise StandinError(404, f"No route for {request.method} {request.path}")


def _surface_for_path(path: str) -> str:
    if path.startswith("/api/"):
        return "ollama"
    if path.startswith("/_control"):
        return "control"
    if path.startswith("/v1/chat/"):
        return "openai"

    return "anthropic"


def _wants_stream(request: Request, route: Route) -> bool:
    body = request.json if isinstance(request.json, dict) else {}
    return body.get("stream", route.streams_by_default) is True


def _empty_request(scope: Scope) -> Request:
    return Request(scope["method"], scope["path"], "", {}, b"")


async def _run_lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown; the stand-in has nothing to open."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
