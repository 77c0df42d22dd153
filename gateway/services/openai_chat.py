"""The OpenAI Chat Completions surface, over the shared pipeline.

OpenAI requests are translated to Anthropic Messages on the way in, and
messages or events back to OpenAI completions or chunks on the way out.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from gateway.providers.base import EventStream
from gateway.services.clients import ClientProfile
from gateway.services.exchange import OPENAI, Exchange
from gateway.services.pipeline import Gateway
from gateway.services.pricing import Cost, Usage, cost_object, usage_cost
from gateway.translate.openai_request import to_anthropic_request, validate_chat_request
from gateway.translate.openai_response import (
    new_completion_id,
    to_openai_completion,
)
from gateway.translate.openai_stream import OpenAIStreamTranslator

# The translation needs a max_tokens before routing has chosen the model whose
# default applies; the pipeline replaces this placeholder right after routing
# (``Exchange.default_max_tokens``), before limits reserve output tokens.
_PLACEHOLDER_MAX_TOKENS = 1


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """Per-request options the client sets through headers."""

    request_id: str
    route_strategy: str | None = None
    optimize: str | None = None
    cache_control: str = ""


class OpenAIChatService:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def start(
        self, *, client: ClientProfile, body: object, options: ChatOptions
    ) -> tuple[Exchange, dict]:
        """Validate, translate and admit a request; nothing is sent yet."""
        request = validate_chat_request(body)
        upstream_body = to_anthropic_request(
            request,
            model=request.get("model") or "auto",
            default_max_tokens=_PLACEHOLDER_MAX_TOKENS,
        )
        stream = bool(request.get("stream"))
        if stream:
            upstream_body["stream"] = True
        exchange = Exchange(
            request_id=options.request_id,
            surface=OPENAI,
            client=client,
            body=upstream_body,
            stream=stream,
            default_max_tokens=not _client_max_tokens(request),
            optimize_header=options.optimize,
            cache_control_header=options.cache_control,
        )

        await self.gateway.admit(
            exchange,
            requested_model=request.get("model"),
            strategy_header=options.route_strategy,
        )
        return exchange, request

    async def complete(self, exchange: Exchange, request: dict) -> dict:
        reply = await self.gateway.complete(exchange)
        extra = {}
        if exchange.usage is not None and exchange.cost is not None:
            extra["cost"] = cost_object(exchange.usage, exchange.cost)

        return to_openai_completion(
            reply.message,
            completion_id=new_completion_id(),
            created=int(time.time()),
            model=reply.message.get("model") or exchange.model.model_id,
            extra=extra,
        )

    async def stream(self, exchange: Exchange, request: dict) -> AsyncIterator[bytes]:
        """Open the upstream stream now, so failures still get a clean status."""
        upstream = await self.gateway.open_stream(exchange)
        translator = OpenAIStreamTranslator(
            completion_id=new_completion_id(),
            created=int(time.time()),
            model=exchange.model.model_id,
            include_usage=_include_usage(request),
            final_extra=lambda usage: _cost_extra(exchange, usage),
        )
        return self._translate(exchange, upstream, translator)

    async def _translate(
        self,
        exchange: Exchange,
        upstream: EventStream,
        translator: OpenAIStreamTranslator,
    ) -> AsyncIterator[bytes]:
        async for event in self.gateway.relay(exchange, upstream):
            chunk = translator.feed(event.json())
            if chunk:
                yield chunk


def _cost_extra(exchange: Exchange, usage: dict) -> dict:
    """The ``cost`` object added to the final usage chunk of a stream."""
    if exchange.model is None:
        return {}
    measured = Usage.from_anthropic(usage)
    if exchange.cache_status == "HIT":
        # A replayed answer carries the original usage but cost nothing now.
        return {"cost": cost_object(measured, Cost())}
    return {"cost": cost_object(measured, usage_cost(exchange.model, measured))}


def _client_max_tokens(request: dict) -> bool:
    return bool(request.get("max_completion_tokens") or request.get("max_tokens"))


def _include_usage(request: dict) -> bool:
    options = request.get("stream_options") or {}
    return bool(options.get("include_usage"))
