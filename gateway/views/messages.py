"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: the Anthropic surface.

Both SDK generations and Claude Code call these with the gateway key as their
API key (``x-api-key`` or ``Authorization: Bearer``). The client's
``anthropic-version``, ``anthropic-beta`` and query string (the SDKs' beta
calls add ``?beta=true``) travel upstream; its credentials never do: the
provider builds the upstream headers from scratch with the gateway's own key.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from gateway.errors import GatewayError
from gateway.logs import client_id_var
from gateway.runtime import get_gateway
from gateway.services.anthropic_messages import (
    AnthropicMessagesService,
    MessagesOptions,
)
from gateway.services.exchange import Exchange
from gateway.views.base import (
    SurfaceView,
    gateway_key,
    json_response,
    parse_json_object,
)
from gateway.views.chat import sse_response
from gateway.views.headers import apply_headers, exchange_headers
from gateway.views.rendering import render_anthropic_error


class AnthropicSurfaceView(SurfaceView):
    """Errors in Anthropic's shape, and the request id where the SDK reads it."""

    surface = "anthropic"
    exchange: Exchange | None = None

    def render_error(self, error: GatewayError) -> HttpResponse:
        return render_anthropic_error(error, request_id=_request_id(self.request))

    def handle_exception(self, exc: Exception) -> HttpResponseBase:
        response = super().handle_exception(exc)
        if self.exchange is not None:
            apply_headers(response, self.exchange_headers())
        return response

    def finalize_response(
        self, request: HttpRequest, response: HttpResponseBase, *args, **kwargs
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)
        # The Anthropic SDK exposes this header as ``_request_id`` on results
        # and as ``request_id`` on errors.
        request_id = _request_id(request)
        if request_id:
            response["request-id"] = request_id
        return response

    def exchange_headers(self) -> dict[str, str]:
        states = get_gateway().dispatcher.breaker_states()
        return exchange_headers(self.exchange, states)


class MessagesView(AnthropicSurfaceView):
    async def post(self, request: HttpRequest) -> HttpResponseBase:
        gateway = get_gateway()
        service = AnthropicMessagesService(gateway)
        client = await gateway.authenticate(gateway_key(request))
        client_id_var.set(str(client.id))

        self.exchange = await service.start(
            client=client,
            body=parse_json_object(request),
            raw_body=request.body,
            options=messages_options(request),
        )
        if self.exchange.stream:
            response = sse_response(await service.stream(self.exchange))
        else:
            body = await service.complete(self.exchange)
            response = HttpResponse(body, content_type="application/json")

        apply_headers(response, self.exchange_headers())
        return response


class CountTokensView(AnthropicSurfaceView):
    async def post(self, request: HttpRequest) -> HttpResponseBase:
        gateway = get_gateway()
        service = AnthropicMessagesService(gateway)
        client = await gateway.authenticate(gateway_key(request))
        client_id_var.set(str(client.id))

        self.exchange = await service.start_count(
            client=client,
            body=parse_json_object(request),
            raw_body=request.body,
            options=messages_options(request),
        )
        count = await service.count(self.exchange)

        response = json_response(count.payload)
        apply_headers(response, self.exchange_headers())
        response["X-TokensGate-Estimated"] = "true" if count.estimated else "false"
        return response


def messages_options(request: HttpRequest) -> MessagesOptions:
    headers = request.headers
    return MessagesOptions(
        request_id=_request_id(request) or "",
        anthropic_version=headers.get("anthropic-version"),
        anthropic_beta=headers.get("anthropic-beta"),
        query=dict(request.GET.items()),
        route_strategy=headers.get("X-Route-Strategy"),
        optimize=headers.get("X-TokensGate-Optimize"),
        cache_control=headers.get("Cache-Control", ""),
    )


def _request_id(request: HttpRequest) -> str | None:
    return getattr(request, "request_id", None)
