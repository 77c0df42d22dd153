"""``POST /v1/chat/completions``: the OpenAI-compatible surface."""

from __future__ import annotations

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)

from gateway.errors import GatewayError
from gateway.logs import client_id_var
from gateway.runtime import get_gateway
from gateway.services.openai_chat import ChatOptions, OpenAIChatService
from gateway.views.base import (
    SurfaceView,
    gateway_key,
    json_response,
    parse_json_object,
)
from gateway.views.headers import apply_headers, exchange_headers


class OpenAISurfaceView(SurfaceView):
    surface = "openai"

    def render_error(self, error: GatewayError) -> HttpResponse:
        return render_openai_error(error)


def render_openai_error(error: GatewayError) -> HttpResponse:
    payload = {
        "error": {
            "message": error.message,
            "type": error.openai_type,
            "param": error.param,
            "code": error.code,
        }
    }
    return json_response(payload, status=error.status)


def sse_response(chunks) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    # Tells buffering reverse proxies (nginx) to pass chunks on at once.
    response["X-Accel-Buffering"] = "no"
    return response


class ChatCompletionsView(OpenAISurfaceView):
    exchange = None

    async def post(self, request: HttpRequest) -> HttpResponseBase:
        gateway = get_gateway()
        service = OpenAIChatService(gateway)
        client = await gateway.authenticate(gateway_key(request))
        client_id_var.set(str(client.id))

        self.exchange, chat = await service.start(
            client=client, body=parse_json_object(request), options=_options(request)
        )
        if self.exchange.stream:
            response = sse_response(await service.stream(self.exchange, chat))
        else:
            response = json_response(await service.complete(self.exchange, chat))

        apply_headers(response, self._headers())
        return response

    def handle_exception(self, exc: Exception) -> HttpResponseBase:
        response = super().handle_exception(exc)
        if self.exchange is not None:
            apply_headers(response, self._headers())
        return response

    def _headers(self) -> dict[str, str]:
        states = get_gateway().dispatcher.breaker_states()
        return exchange_headers(self.exchange, states)


def _options(request: HttpRequest) -> ChatOptions:
    return ChatOptions(
        request_id=request.request_id,
        route_strategy=request.headers.get("X-Route-Strategy"),
        optimize=request.headers.get("X-TokensGate-Optimize"),
        cache_control=request.headers.get("Cache-Control", ""),
    )
