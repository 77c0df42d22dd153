"""The Anthropic provider: the Messages API over the gateway's own HTTP pool.

Requests go out through the gateway's aiohttp pool (``upstream_http``) as the
gateway built them, and streams come back as bytes: the Anthropic surface
relays those bytes unchanged, and no field an SDK does not know yet is lost to
its models. The gateway owns retries, breakers and failover.

The ``anthropic`` SDK is not imported here: its types cost about 50 MB of
memory per worker, and the gateway used it only for a base URL and headers.
"""

from __future__ import annotations

import logging

import aiohttp
import orjson

from gateway import __version__
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
from gateway.providers.upstream_http import (
    TIMEOUT_ERRORS,
    UpstreamHTTP,
    iter_body,
    read_body,
)
from gateway.sse import iter_events

logger = logging.getLogger(__name__)

USER_AGENT = f"TokensGate/{__version__}"
MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"


class AnthropicProvider(Provider):
    name = "anthropic"

    def __init__(self) -> None:
        settings = config()
        self._api_key = settings.CLAUDE_API_KEY
        self._version = settings.ANTHROPIC_VERSION
        self._read_timeout = settings.UPSTREAM_READ_TIMEOUT
        self._stream_timeout = settings.STREAM_IDLE_TIMEOUT
        self._http: UpstreamHTTP | None = None
        if self._api_key:
            self._base_url = settings.ANTHROPIC_BASE_URL.rstrip("/")
            self._default_headers = {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
            self._http = UpstreamHTTP(connect_timeout=settings.UPSTREAM_CONNECT_TIMEOUT)

    def is_configured(self) -> bool:
        return self._http is not None

    async def create(self, call: UpstreamCall) -> UpstreamReply:
        response = await self._post(MESSAGES_PATH, call, stream=False)
        raw = await read_body(response)

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
            response.close()
            raise StreamInterrupted(
                "The upstream stream closed before any event."
            ) from None
        except BaseException:
            response.close()
            raise

        if first.name == "error":
            response.close()
            raise _stream_error(first.json())
        return EventStream(events, _closer(response), first=first)

    async def count_tokens(self, call: UpstreamCall) -> dict:
        response = await self._post(COUNT_TOKENS_PATH, call, stream=False)
        return _parse_json(await read_body(response))

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def _post(
        self, path: str, call: UpstreamCall, *, stream: bool
    ) -> aiohttp.ClientResponse:
        if self._http is None:
            raise UpstreamUnavailable("The Anthropic provider is not configured.")

        response = await self._http.post(
            self._base_url + path,
            body=call.encoded_body(),
            headers=self._headers(call),
            params=call.query or None,
            read_timeout=self._stream_timeout if stream else self._read_timeout,
        )
        if response.status >= 400:
            raise await _status_error(response)
        return response

    def _headers(self, call: UpstreamCall) -> dict[str, str]:
        version = call.anthropic_version or self._version
        headers = {
            **self._default_headers,
            "anthropic-version": version,
            "x-request-id": call.request_id,
            **_auth_header(version, self._api_key),
        }
        if call.anthropic_beta:
            headers["anthropic-beta"] = call.anthropic_beta
        return headers


def _auth_header(version: str, api_key: str) -> dict[str, str]:
    # The 2023-06-01 API documents x-api-key; the generation that sends
    # anthropic-version 2026-10-21 authenticates with a bearer token.
    if version >= "2026-10-21":
        return {"Authorization": f"Bearer {api_key}"}
    return {"x-api-key": api_key}


async def _guarded_bytes(response: aiohttp.ClientResponse):
    """Yield body chunks, turning transport failures into gateway errors."""
    try:
        async for chunk in iter_body(response):
            yield chunk
    except TIMEOUT_ERRORS as exc:
        raise StreamInterrupted("The upstream stream stalled.") from exc
    except aiohttp.ClientError as exc:
        raise StreamInterrupted("The upstream connection was lost mid-stream.") from exc


def _closer(response: aiohttp.ClientResponse):
    async def close() -> None:
        # A fully read response gives its connection back to the pool; one
        # abandoned mid-stream is closed, which tells the upstream to stop.
        if response.content.at_eof():
            response.release()
        else:
            response.close()

    return close


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


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def _status_error(response: aiohttp.ClientResponse) -> UpstreamError:
    """Read an error answer and translate it into the gateway's tree."""
    try:
        raw = await read_body(response)
    except (UpstreamTimeout, UpstreamUnavailable):
        raw = b""

    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    return _translate_status(response.status, body, _retry_after(response))


def _translate_status(status: int, body: object, retry_after: float | None):
    error_type, message = _error_fields(body)
    if status in (401, 403, 402):
        logger.error(
            "upstream refused the gateway's credentials",
            extra={"provider": "anthropic", "upstream_status": status},
        )
        return UpstreamMisconfigured(upstream_status=status)
    if status == 408 or status >= 500 or status == 429:
        return UpstreamUnavailable(
            message or None, upstream_status=status, retry_after=retry_after
        )
    return UpstreamRejected(message, status=status, anthropic_type=error_type)


def _stream_error(payload: dict) -> UpstreamError:
    error_type, message = _error_fields(payload)
    status = 529 if error_type == "overloaded_error" else 500
    return UpstreamUnavailable(message or None, upstream_status=status)
