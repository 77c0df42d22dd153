"""The Anthropic Messages surface, over the shared pipeline.

Nothing is translated here. The client's body bytes go upstream exactly as
they arrived unless a pipeline step deliberately rewrites the body (routing to
another model, optimisation, cache breakpoints: each calls
``Exchange.mark_body_changed``), and the upstream's answer comes back as it
arrived, as a whole body or event by event. The gateway checks only the fields
it reads itself; everything else is the upstream's business, so block types,
parameters and beta features the gateway has never heard of keep working.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, NoReturn

import orjson

from gateway.errors import InvalidRequest, UpstreamError, UpstreamRejected
from gateway.providers.base import EventStream, Provider
from gateway.services.clients import ClientProfile
from gateway.services.exchange import ANTHROPIC, Exchange
from gateway.services.pipeline import Gateway
from gateway.services.request_caps import check_caps
from gateway.services.tokens import estimate_input_tokens
from gateway.sse import SSEEvent, encode_event

logger = logging.getLogger(__name__)

# Only Anthropic counts tokens; Ollama has no such endpoint.
COUNTING_TARGET = "anthropic"


@dataclass(frozen=True, slots=True)
class MessagesOptions:
    """What the client said in headers and the query string."""

    request_id: str
    anthropic_version: str | None = None
    anthropic_beta: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    route_strategy: str | None = None
    optimize: str | None = None
    cache_control: str = ""


@dataclass(frozen=True, slots=True)
class TokenCount:
    """A count_tokens answer, and whether the gateway had to estimate it."""

    payload: dict
    estimated: bool


class AnthropicMessagesService:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def start(
        self,
        *,
        client: ClientProfile,
        body: dict,
        raw_body: bytes,
        options: MessagesOptions,
    ) -> Exchange:
        """Validate and admit a Messages request; nothing is sent yet."""
        validate_messages_request(body)
        exchange = _exchange(
            client, body, raw_body, options, stream=body.get("stream") is True
        )

        await self.gateway.admit(
            exchange,
            requested_model=body["model"],
            strategy_header=options.route_strategy,
        )
        return exchange

    async def complete(self, exchange: Exchange) -> bytes:
        """The response body of a non-streaming request."""
        reply = await self.gateway.complete(exchange)
        if _answered_by_upstream(exchange) and reply.raw:
            return reply.raw

        # A cached or fallback answer has no upstream bytes that belong to
        # this request, so the message itself is serialised.
        return orjson.dumps(reply.message)

    async def stream(self, exchange: Exchange) -> AsyncIterator[bytes]:
        """Open the upstream stream now, so failures still get a clean status."""
        upstream = await self.gateway.open_stream(exchange)
        return self._relay(exchange, upstream)

    async def start_count(
        self,
        *,
        client: ClientProfile,
        body: dict,
        raw_body: bytes,
        options: MessagesOptions,
    ) -> Exchange:
        """Validate and route a count_tokens request; nothing is sent yet."""
        validate_count_request(body)
        exchange = _exchange(client, body, raw_body, options, stream=False)

        await self.gateway.route(
            exchange,
            requested_model=body["model"],
            strategy_header=options.route_strategy,
        )
        # TODO: counts are not rate limited yet. The limiter reserves output
        # tokens per request; a count needs a request-only check (Anthropic
        # limits counting separately from messages) before it can go through.
        return exchange

    async def count(self, exchange: Exchange) -> TokenCount:
        """Ask the upstream to count; estimate locally when it cannot answer."""
        provider = self.gateway.dispatcher.providers.get(COUNTING_TARGET)
        skipped = self._skip_reason(provider)
        if skipped is not None:
            exchange.attempts.append(f"{COUNTING_TARGET}:skipped:{skipped}")
            return _estimate(exchange)
        try:
            payload = await self._count_upstream(provider, exchange)
        except UpstreamError as exc:
            exchange.attempts.append(_attempt(provider, exc))
            if isinstance(exc, UpstreamRejected):
                raise
            logger.warning(
                "token count estimated locally: the upstream could not answer",
                extra={"provider": provider.name, "error": type(exc).__name__},
            )
            return _estimate(exchange)

        exchange.attempts.append(f"{provider.name}:ok")
        return TokenCount(payload, estimated=False)

    async def _relay(
        self, exchange: Exchange, upstream: EventStream
    ) -> AsyncIterator[bytes]:
        # Closing this generator (the client went away) closes the relay at
        # once, and with it the upstream connection, not at garbage collection.
        async with aclosing(self.gateway.relay(exchange, upstream)) as events:
            async for event in events:
                yield _event_bytes(event)

    def _skip_reason(self, provider: Provider | None) -> str | None:
        """Why the upstream should not be asked to count, if it should not."""
        if provider is None or not provider.is_configured():
            return "not_configured"
        # An open breaker means the upstream is failing: counting there would
        # only add load and latency before the same local estimate.
        if self.gateway.dispatcher.breaker_states().get(COUNTING_TARGET) == "open":
            return "open"
        return None

    async def _count_upstream(self, provider: Provider, exchange: Exchange) -> dict:
        # Counting goes to the provider directly, not through the dispatcher:
        # Ollama cannot count, so there is nothing to fail over to, and a
        # local estimate now serves a client better than retries would.
        started = time.monotonic()
        payload = await provider.count_tokens(exchange.upstream_call())
        logger.info(
            "upstream call",
            extra={
                "provider": provider.name,
                "model": exchange.body.get("model"),
                "upstream_status": 200,
                "latency_ms": round((time.monotonic() - started) * 1000, 1),
                "operation": "count_tokens",
            },
        )
        return payload


def _exchange(
    client: ClientProfile,
    body: dict,
    raw_body: bytes,
    options: MessagesOptions,
    *,
    stream: bool,
) -> Exchange:
    return Exchange(
        request_id=options.request_id,
        surface=ANTHROPIC,
        client=client,
        body=body,
        stream=stream,
        raw_body=raw_body,
        anthropic_version=options.anthropic_version,
        anthropic_beta=options.anthropic_beta,
        query=dict(options.query),
        optimize_header=options.optimize,
        cache_control_header=options.cache_control,
    )


def _answered_by_upstream(exchange: Exchange) -> bool:
    """Whether the reply's bytes came from Anthropic for this very request."""
    return (
        exchange.provider == "anthropic"
        and not exchange.fallback
        and exchange.cache_status != "HIT"
    )


def _estimate(exchange: Exchange) -> TokenCount:
    # The gateway answers this one itself, and its headers say so.
    exchange.provider = "gateway"
    tokens = estimate_input_tokens(exchange.body)
    return TokenCount({"input_tokens": tokens}, estimated=True)


def _attempt(provider: Provider, exc: UpstreamError) -> str:
    return f"{provider.name}:error:{exc.upstream_status or exc.status}"


def _event_bytes(event: SSEEvent) -> bytes:
    # Upstream events carry their exact bytes. An event without them (built
    # by a fallback provider, say) is framed here rather than lost.
    if event.raw:
        return event.raw
    return encode_event(event.name, event.json())


# Validation: only what the gateway itself reads. Messages follow the API's
# own style, "<field path>: <problem>", so clients see familiar errors.


def validate_messages_request(body: dict) -> None:
    """Check the fields a Messages request must have for the gateway to work."""
    check_caps(
        messages=body.get("messages"),
        tools=body.get("tools"),
        max_tokens=body.get("max_tokens"),
    )
    _check_model(body)
    _check_max_tokens(body)
    if "stream" in body and not isinstance(body["stream"], bool):
        _fail("stream: Input should be a valid boolean", "stream")
    _check_prompt(body)


def validate_count_request(body: dict) -> None:
    """Check a count_tokens body: a model and a prompt, nothing to generate."""
    check_caps(messages=body.get("messages"), tools=body.get("tools"), max_tokens=None)
    _check_model(body)
    _check_prompt(body)


def _fail(message: str, param: str) -> NoReturn:
    raise InvalidRequest(message, param=param)


def _check_model(body: dict) -> None:
    if "model" not in body:
        _fail("model: Field required", "model")
    if not isinstance(body["model"], str) or not body["model"].strip():
        _fail("model: Input should be a model name (a non-empty string)", "model")


def _check_max_tokens(body: dict) -> None:
    if "max_tokens" not in body:
        _fail("max_tokens: Field required", "max_tokens")

    value = body["max_tokens"]
    # 0 is allowed: the newer API versions document it as a cache pre-warm.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        _fail(
            "max_tokens: Input should be an integer greater than or equal to 0",
            "max_tokens",
        )


def _check_prompt(body: dict) -> None:
    _check_messages(body.get("messages"), "messages" in body)
    if "system" in body:
        _check_content(body["system"], "system")
    if "tools" in body and not isinstance(body["tools"], list):
        _fail("tools: Input should be a valid list", "tools")


def _check_messages(messages: Any, present: bool) -> None:
    if not present:
        _fail("messages: Field required", "messages")
    if not isinstance(messages, list):
        _fail("messages: Input should be a valid list", "messages")
    if not messages:
        _fail("messages: at least one message is required", "messages")

    for index, message in enumerate(messages):
        path = f"messages.{index}"
        if not isinstance(message, dict):
            _fail(f"{path}: Input should be an object", path)
        # Any role name passes: newer API versions add roles (``system``
        # messages mid-conversation, which Claude Code sends), and the
        # upstream judges them better than a list kept here.
        if not isinstance(message.get("role"), str) or not message["role"]:
            _fail(f"{path}.role: Input should be a role name", f"{path}.role")
        if "content" not in message:
            _fail(f"{path}.content: Field required", f"{path}.content")
        _check_content(message["content"], f"{path}.content")


def _check_content(content: Any, path: str) -> None:
    """A string, or a list of blocks whose fields the token estimate reads."""
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        _fail(f"{path}: Input should be a string or a list of content blocks", path)

    for index, block in enumerate(content):
        _check_block(block, f"{path}.{index}")


# The string fields of each block type that the token estimate reads; the
# rest of a block is the upstream's to judge.
_BLOCK_STRING_FIELDS = {
    "text": ("text",),
    "tool_use": ("name",),
    "server_tool_use": ("name",),
    "thinking": ("thinking",),
}


def _check_block(block: Any, path: str) -> None:
    if not isinstance(block, dict):
        _fail(f"{path}: Input should be an object", path)

    kind = block.get("type")
    if not isinstance(kind, str) or not kind:
        _fail(f"{path}.type: Field required", f"{path}.type")

    for name in _BLOCK_STRING_FIELDS.get(kind, ()):
        if name in block and not isinstance(block[name], str):
            _fail(f"{path}.{name}: Input should be a valid string", f"{path}.{name}")
    if kind == "tool_result" and "content" in block:
        _check_content(block["content"], f"{path}.content")
