"""The local fallback: an Ollama server, through its OpenAI-compatible API.

Like every provider it speaks Anthropic Messages to the gateway: requests are
translated to ``/v1/chat/completions`` and answers back to Anthropic messages
and events (``ollama_wire``), so both API surfaces serve a fallback answer
unchanged. The request is expected to be adapted to a local model already
(``gateway.providers.adapt``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import orjson

from gateway.conf import config
from gateway.errors import (
    StreamInterrupted,
    UpstreamError,
    UpstreamMisconfigured,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.providers.base import EventStream, Provider, UpstreamCall, UpstreamReply
from gateway.providers.ollama_wire import (
    EventTranslator,
    anthropic_message,
    chat_request,
)
from gateway.services.tokens import estimate_input_tokens
from gateway.sse import SSEEvent, iter_events

CHAT_PATH = "/v1/chat/completions"
TAGS_PATH = "/api/tags"
PROBE_TIMEOUT_SECONDS = 1.0
PROBE_CACHE_SECONDS = 5.0


class OllamaProvider(Provider):
    name = "ollama"

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        settings = config()
        self.model = settings.OLLAMA_MODEL
        self._enabled = settings.OLLAMA_FALLBACK_ENABLED
        self._timeout = httpx.Timeout(
            settings.UPSTREAM_READ_TIMEOUT, connect=settings.UPSTREAM_CONNECT_TIMEOUT
        )
        self._stream_timeout = httpx.Timeout(
            settings.STREAM_IDLE_TIMEOUT, connect=settings.UPSTREAM_CONNECT_TIMEOUT
        )
        self._client = httpx.AsyncClient(
            base_url=settings.OLLAMA_BASE_URL,
            transport=transport,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        self._probe: tuple[float, str] = (0.0, "")

    def is_configured(self) -> bool:
        return self._enabled

    async def create(self, call: UpstreamCall) -> UpstreamReply:
        payload = chat_request(call.body, stream=False)
        response = await self._send(payload, timeout=self._timeout, stream=False)
        try:
            completion = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamUnavailable(
                "The local model answered with invalid JSON."
            ) from exc

        message = anthropic_message(completion, model=call.body["model"])
        return UpstreamReply(message=message, raw=orjson.dumps(message))

    async def stream(self, call: UpstreamCall) -> EventStream:
        payload = chat_request(call.body, stream=True)
        response = await self._send(payload, timeout=self._stream_timeout, stream=True)
        translator = EventTranslator(call.body["model"])
        events = _anthropic_events(iter_events(_guarded_bytes(response)), translator)
        try:
            first = await anext(events)
        except StopAsyncIteration:
            await response.aclose()
            raise StreamInterrupted(
                "The local model closed the stream before any event."
            ) from None
        except BaseException:
            await response.aclose()
            raise

        if first.name == "error":
            await response.aclose()
            raise UpstreamUnavailable(
                first.json()["error"]["message"], upstream_status=500
            )
        return EventStream(events, response.aclose, first=first)

    async def count_tokens(self, call: UpstreamCall) -> dict:
        # Ollama has no token counting endpoint; the local estimate stands in.
        return {"input_tokens": estimate_input_tokens(call.body)}

    async def probe(self) -> str:
        """``ok``, ``model_missing``, ``unreachable`` or ``disabled``, for /health."""
        if not self._enabled:
            return "disabled"
        expires, status = self._probe
        if time.monotonic() < expires:
            return status

        status = await self._probe_tags()
        self._probe = (time.monotonic() + PROBE_CACHE_SECONDS, status)
        return status

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _probe_tags(self) -> str:
        try:
            response = await self._client.get(TAGS_PATH, timeout=PROBE_TIMEOUT_SECONDS)
            response.raise_for_status()
            models = response.json().get("models") or []
        except (httpx.HTTPError, ValueError, AttributeError):
            return "unreachable"

        names = {m.get("name") for m in models if isinstance(m, dict)}
        return "ok" if self.model in names else "model_missing"

    async def _send(
        self, payload: dict, *, timeout: httpx.Timeout, stream: bool
    ) -> httpx.Response:
        request = self._client.build_request(
            "POST",
            CHAT_PATH,
            content=orjson.dumps(payload),
            headers={"content-type": "application/json"},
            timeout=timeout,
        )
        try:
            response = await self._client.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("The local model did not answer in time.") from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailable("Could not connect to the local model.") from exc

        if response.status_code >= 400:
            try:
                body = await response.aread()
            finally:
                await response.aclose()
            raise _status_error(response.status_code, body)
        return response


async def _anthropic_events(
    events: AsyncIterator[SSEEvent], translator: EventTranslator
) -> AsyncIterator[SSEEvent]:
    async for event in events:
        if event.data.strip() == b"[DONE]":
            for translated in translator.finish():
                yield translated
            return
        try:
            chunk = orjson.loads(event.data)
        except orjson.JSONDecodeError as exc:
            raise StreamInterrupted("The local model sent an invalid chunk.") from exc
        for translated in translator.feed(chunk):
            yield translated


async def _guarded_bytes(response: httpx.Response) -> AsyncIterator[bytes]:
    """Yield body chunks, turning transport failures into gateway errors."""
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx.TimeoutException as exc:
        raise StreamInterrupted("The local model's stream stalled.") from exc
    except httpx.TransportError as exc:
        raise StreamInterrupted("The local model's connection was lost.") from exc


def _status_error(status: int, body: bytes) -> UpstreamError:
    message = _error_message(body)
    if status == 404:
        # The gateway asked for the model it is configured with: a missing
        # model is the operator's to fix, not the caller's.
        return UpstreamMisconfigured(
            f"The fallback model is not available: {message}", upstream_status=404
        )
    if status in (408, 429) or status >= 500:
        return UpstreamUnavailable(message, upstream_status=status)
    return UpstreamRejected(
        message, status=status, anthropic_type="invalid_request_error"
    )


def _error_message(body: bytes) -> str:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "The local model returned an error."
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or "The local model returned an error.")
    return str(error or "The local model returned an error.")
