"""The Anthropic provider, on the official ``anthropic`` async client.

The client is used at its low level (``post`` with a raw response) so that the
body goes out as the gateway built it and the stream comes back as bytes: the
Anthropic surface relays those bytes unchanged, and no field the SDK does not
know yet is lost to its models. The SDK's own retries are off; the gateway owns
retries, breakers and failover.
"""

from __future__ import annotations

import logging

import anthropic
import httpx2
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
from gateway.sse import iter_events

logger = logging.getLogger(__name__)

MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"


class AnthropicProvider(Provider):
    name = "anthropic"

    def __init__(self) -> None:
        settings = config()
        self._api_key = settings.CLAUDE_API_KEY
        self._version = settings.ANTHROPIC_VERSION
        self._timeout = httpx2.Timeout(
            settings.UPSTREAM_READ_TIMEOUT, connect=settings.UPSTREAM_CONNECT_TIMEOUT
        )
        self._stream_timeout = httpx2.Timeout(
            settings.STREAM_IDLE_TIMEOUT, connect=settings.UPSTREAM_CONNECT_TIMEOUT
        )
        self._client = None
        if self._api_key:
            self._client = anthropic.AsyncAnthropic(
                api_key=self._api_key,
                base_url=settings.ANTHROPIC_BASE_URL,
                max_retries=0,
                timeout=self._timeout,
                http_client=anthropic.DefaultAsyncHttpxClient(
                    limits=httpx2.Limits(
                        max_connections=1000, max_keepalive_connections=200
                    ),
                ),
            )

    def is_configured(self) -> bool:
        return self._client is not None

    async def create(self, call: UpstreamCall) -> UpstreamReply:
        response = await self._post(MESSAGES_PATH, call, stream=False)
        try:
            raw = await response.aread()
        except httpx2.TimeoutException as exc:
            raise UpstreamTimeout() from exc
        except httpx2.TransportError as exc:
            raise UpstreamUnavailable("The upstream connection failed.") from exc
        finally:
            await response.aclose()

        return UpstreamReply(
            message=_parse_json(raw),
            raw=raw,
            upstream_request_id=response.headers.get("request-id"),
        )

    async def stream(self, call: UpstreamCall) -> EventStream:
        response = await self._post(MESSAGES_PATH, call, stream=True)
        events = iter_events(_guarded_bytes(response))
        try:
            first = await anext(events)
        except StopAsyncIteration:
            await response.aclose()
            raise StreamInterrupted("The upstream stream closed before any event.")
        except BaseException:
            await response.aclose()
            raise

        if first.name == "error":
            await response.aclose()
            raise _stream_error(first.json())
        return EventStream(events, response.aclose, first=first)

    async def count_tokens(self, call: UpstreamCall) -> dict:
        response = await self._post(COUNT_TOKENS_PATH, call, stream=False)
        try:
            raw = await response.aread()
        except httpx2.TimeoutException as exc:
            raise UpstreamTimeout() from exc
        except httpx2.TransportError as exc:
            raise UpstreamUnavailable("The upstream connection failed.") from exc
        finally:
            await response.aclose()

        return _parse_json(raw)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()

    async def _post(
        self, path: str, call: UpstreamCall, *, stream: bool
    ) -> httpx2.Response:
        if self._client is None:
            raise UpstreamUnavailable("The Anthropic provider is not configured.")

        options = {
            "headers": self._headers(call),
            "params": call.query,
            "timeout": self._stream_timeout if stream else self._timeout,
        }
        try:
            return await self._client.post(
                path,
                cast_to=httpx2.Response,
                content=call.encoded_body(),
                options=options,
                stream=True,
            )
        except anthropic.APIStatusError as exc:
            raise _status_error(exc) from exc
        except anthropic.APITimeoutError as exc:
            raise UpstreamTimeout() from exc
        except anthropic.APIConnectionError as exc:
            raise UpstreamUnavailable("Could not connect to the upstream.") from exc

    def _headers(self, call: UpstreamCall) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "anthropic-version": call.anthropic_version or self._version,
            "x-request-id": call.request_id,
        }
        if call.anthropic_beta:
            headers["anthropic-beta"] = call.anthropic_beta
        return headers


async def _guarded_bytes(response: httpx2.Response):
    """Yield body chunks, turning transport failures into gateway errors."""
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx2.TimeoutException as exc:
        raise StreamInterrupted("The upstream stream stalled.") from exc
    except httpx2.TransportError as exc:
        raise StreamInterrupted("The upstream connection was lost mid-stream.") from exc


def _parse_json(raw: bytes) -> dict:
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamUnavailable("The upstream answered with invalid JSON.") from exc

    if not isinstance(parsed, dict):
        raise UpstreamUnavailable("The upstream answered with unexpected JSON.")
    return parsed


def _error_fields(body: object) -> tuple[str, str]:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "api_error", "The upstream returned an error."
    return str(error.get("type", "api_error")), str(error.get("message", ""))


def _retry_after(exc: anthropic.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _status_error(exc: anthropic.APIStatusError) -> UpstreamError:
    status = exc.status_code
    error_type, message = _error_fields(exc.body)
    if status in (401, 403, 402):
        logger.error(
            "upstream refused the gateway's credentials",
            extra={"provider": "anthropic", "upstream_status": status},
        )
        return UpstreamMisconfigured(upstream_status=status)
    if status == 408 or status >= 500 or status == 429:
        return UpstreamUnavailable(
            message or None, upstream_status=status, retry_after=_retry_after(exc)
        )
    return UpstreamRejected(message, status=status, anthropic_type=error_type)


def _stream_error(payload: dict) -> UpstreamError:
    error_type, message = _error_fields(payload)
    status = 529 if error_type == "overloaded_error" else 500
    return UpstreamUnavailable(message or None, upstream_status=status)
