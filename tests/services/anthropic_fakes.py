"""Fakes and request builders for the Anthropic surface's service tests.

The pipeline runs for real; only the provider is a fake that records the call
it received and answers with prepared bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson

from gateway.providers.base import EventStream, Provider, UpstreamCall, UpstreamReply
from gateway.services.anthropic_messages import (
    AnthropicMessagesService,
    MessagesOptions,
)
from gateway.services.catalog import ModelCatalog, ModelInfo
from gateway.services.clients import ClientDirectory, ClientProfile
from gateway.services.dispatch import Dispatcher
from gateway.services.pipeline import Gateway
from gateway.sse import iter_events
from tests.model_fixtures import model_info as shared_model_info

HAIKU = "claude-haiku-4-5-20251001"
SONNET = "claude-sonnet-4-5-20250929"

CLIENT = ClientProfile(
    id=7,
    name="tests",
    key_prefix="tg_test",
    requests_per_minute=100,
    tokens_per_minute=100_000,
    daily_budget_usd=None,
    monthly_budget_usd=None,
    max_concurrent_requests=None,
    cache_scope="client:7",
    optimization_mode="safe",
)

# Odd spacing and fields no SDK knows: a re-serialising gateway would change both.
UPSTREAM_MESSAGE = (
    b'{"id":"msg_01","type":"message","role":"assistant","model":"'
    + HAIKU.encode()
    + b'","content":[{"type":"text","text":"hi","future_field":{"x": 1}}],'
    b'"stop_reason":"end_turn","stop_sequence":null,'
    b'"usage":{"input_tokens":5,"output_tokens":2}}'
)

UPSTREAM_STREAM = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_01",'
    b'"type":"message","role":"assistant","model":"' + HAIKU.encode() + b'",'
    b'"content":[],"stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":9,"output_tokens":1}}}\n\n'
    b'event: ping\ndata: {"type": "ping"}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"thinking","thinking":"","signature":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"thinking_delta","thinking":"Let me think."}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"signature_delta","signature":"EqQBCgIYAh+/=="}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: brand_new_event\ndata: {"type":"brand_new_event","payload":[1, 2]}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":'
    b'"end_turn","stop_sequence":null},"usage":{"output_tokens":12}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


class FakeProvider(Provider):
    """Answers with prepared bytes and remembers the calls it received."""

    name = "anthropic"

    def __init__(self, *, configured: bool = True) -> None:
        self.configured = configured
        self.calls: list[UpstreamCall] = []
        self.count_error: Exception | None = None
        self.stream_bytes = UPSTREAM_STREAM
        self.closed_streams = 0

    async def create(self, call: UpstreamCall) -> UpstreamReply:
        self.calls.append(call)
        return UpstreamReply(
            message=orjson.loads(UPSTREAM_MESSAGE), raw=UPSTREAM_MESSAGE
        )

    async def stream(self, call: UpstreamCall) -> EventStream:
        self.calls.append(call)
        events = iter_events(_chunks(self.stream_bytes))

        async def close() -> None:
            self.closed_streams += 1

        return EventStream(events, close)

    async def count_tokens(self, call: UpstreamCall) -> dict:
        self.calls.append(call)
        if self.count_error is not None:
            raise self.count_error
        return {"input_tokens": 4242}

    def is_configured(self) -> bool:
        return self.configured


class BreakerDispatcher(Dispatcher):
    def __init__(self, providers: dict[str, Provider], state: str) -> None:
        super().__init__(providers)
        self.state = state

    def breaker_states(self) -> dict[str, str]:
        return {"anthropic": self.state, "ollama": "closed"}


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    # Split at awkward places, as a network would.
    for start in range(0, len(data), 37):
        yield data[start : start + 37]


def model_info(model_id: str, aliases: tuple[str, ...]) -> ModelInfo:
    return shared_model_info(model_id, *aliases, max_output_tokens=8192)


def make_gateway(
    provider: FakeProvider, dispatcher: Dispatcher | None = None
) -> Gateway:
    # A clock that never passes the catalog's expiry keeps it off the database.
    catalog = ModelCatalog(clock=lambda: -1.0)
    catalog.load(
        [
            model_info(HAIKU, ("claude-haiku-4-5",)),
            model_info(SONNET, ("claude-sonnet-4-5",)),
        ]
    )
    return Gateway(
        catalog=catalog,
        clients=ClientDirectory(),
        dispatcher=dispatcher or Dispatcher({"anthropic": provider}),
    )


def request_bytes(**fields: object) -> bytes:
    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello"}],
        **fields,
    }
    # Spacing no serialiser would reproduce, so byte equality proves passthrough.
    return orjson.dumps(body).replace(b",", b", ")


OPTIONS = MessagesOptions(
    request_id="req_test",
    anthropic_version="2026-10-21",
    anthropic_beta="interleaved-thinking-2025-05-14,claude-code-20250219",
    query={"beta": "true"},
)


async def start(service: AnthropicMessagesService, raw: bytes, options=OPTIONS):
    return await service.start(
        client=CLIENT, body=orjson.loads(raw), raw_body=raw, options=options
    )
