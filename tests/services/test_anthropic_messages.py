"""The Anthropic surface's service: validation, faithful passthrough, counting.

The pipeline runs for real; only the provider is a fake that records the call
it received and answers with prepared bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import orjson
import pytest

from gateway.conf import config
from gateway.errors import (
    InvalidRequest,
    NotFound,
    StreamInterrupted,
    UpstreamRejected,
    UpstreamUnavailable,
)
from gateway.providers.base import EventStream, Provider, UpstreamCall, UpstreamReply
from gateway.services.anthropic_messages import (
    AnthropicMessagesService,
    MessagesOptions,
)
from gateway.services.catalog import ModelCatalog, ModelInfo
from gateway.services.clients import ClientDirectory, ClientProfile
from gateway.services.dispatch import Dispatcher
from gateway.services.pipeline import Gateway
from gateway.sse import SSEEvent, iter_events

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
    price = Decimal(1)
    return ModelInfo(
        model_id=model_id,
        provider="anthropic",
        aliases=aliases,
        input_price=price,
        output_price=price,
        cache_write_5m_price=price,
        cache_write_1h_price=price,
        cache_read_price=price,
        min_cacheable_tokens=1024,
        max_output_tokens=8192,
        context_window=200_000,
        created=0,
    )


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


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def service(provider: FakeProvider) -> AnthropicMessagesService:
    return AnthropicMessagesService(make_gateway(provider))


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


# Validation


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"model": None}, "model"),
        ({"model": ""}, "model"),
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": -1}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"max_tokens": "100"}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"messages": "Hello"}, "messages"),
        ({"messages": ["Hello"]}, "messages.0"),
        ({"messages": [{"role": 1, "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "user"}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
        (
            {"messages": [{"role": "user", "content": [{"text": "no type"}]}]},
            "messages.0.content.0.type",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
            "messages.0.content.0.text",
        ),
        ({"system": {"text": "x"}}, "system"),
        ({"stream": "yes"}, "stream"),
        ({"tools": {"name": "x"}}, "tools"),
    ],
)
async def test_it_rejects_invalid_bodies_naming_the_field(
    service, provider, change, field
):
    body = orjson.loads(request_bytes())
    body.update(change)
    raw = orjson.dumps(body)

    with pytest.raises(InvalidRequest) as caught:
        await start(service, raw)

    assert caught.value.param == field
    assert caught.value.message.startswith(field + ":")
    assert provider.calls == []


async def test_it_requires_model_max_tokens_and_messages(service):
    for name in ("model", "max_tokens", "messages"):
        body = orjson.loads(request_bytes())
        del body[name]
        with pytest.raises(InvalidRequest, match=f"^{name}: Field required"):
            await start(service, orjson.dumps(body))


async def test_max_tokens_zero_is_accepted_as_cache_prewarm(service, provider):
    exchange = await start(service, request_bytes(max_tokens=0))
    await service.complete(exchange)

    assert provider.calls[0].body["max_tokens"] == 0


async def test_roles_the_gateway_does_not_know_are_left_to_the_upstream(
    service, provider
):
    # Newer API versions take system messages mid-conversation.
    messages = [
        {"role": "user", "content": "Hello"},
        {"role": "system", "content": "Agents available: none."},
    ]
    raw = request_bytes(messages=messages)

    await service.complete(await start(service, raw))

    assert provider.calls[0].encoded_body() == raw


async def test_caps_refuse_oversized_requests_before_anything_else(service):
    messages = [{"role": "user", "content": "x"}] * (config().MAX_MESSAGES + 1)

    with pytest.raises(InvalidRequest) as caught:
        await start(service, request_bytes(messages=messages))

    assert caught.value.code == "too_many_messages"


async def test_unknown_model_is_not_found(service):
    with pytest.raises(NotFound):
        await start(service, request_bytes(model="claude-nonexistent-9"))


# Passthrough


async def test_upstream_receives_the_client_bytes_unchanged(service, provider):
    raw = request_bytes(
        system=[
            {
                "type": "text",
                "text": "Be brief.",
                "cache_control": {"type": "ephemeral"},
            }
        ],
        metadata={"user_id": "user-1"},
        brand_new_parameter={"nested": [1, 2.5, None]},
    )
    exchange = await start(service, raw)
    await service.complete(exchange)

    call = provider.calls[0]
    assert call.encoded_body() == raw
    assert call.anthropic_version == "2026-10-21"
    assert call.anthropic_beta == OPTIONS.anthropic_beta
    assert call.query == {"beta": "true"}


async def test_an_explicit_model_id_also_keeps_the_bytes(service, provider):
    raw = request_bytes(model=HAIKU)
    await service.complete(await start(service, raw))

    assert provider.calls[0].encoded_body() == raw


async def test_auto_routing_rewrites_the_model_and_marks_the_body_changed(
    service, provider
):
    exchange = await start(service, request_bytes(model="auto"))
    await service.complete(exchange)

    call = provider.calls[0]
    assert call.raw_body is None
    assert orjson.loads(call.encoded_body())["model"] == HAIKU
    assert exchange.strategy == "auto"


async def test_non_streaming_answer_is_the_upstream_bytes(service):
    exchange = await start(service, request_bytes())

    assert await service.complete(exchange) == UPSTREAM_MESSAGE
    assert exchange.usage.input_tokens == 5
    assert exchange.served_model == HAIKU


async def test_fallback_answer_is_serialised_from_the_message(service, provider):
    exchange = await start(service, request_bytes())
    exchange.fallback = True

    body = await service.complete(exchange)

    assert body != UPSTREAM_MESSAGE
    assert orjson.loads(body) == orjson.loads(UPSTREAM_MESSAGE)


async def test_stream_is_relayed_byte_for_byte(service):
    exchange = await start(service, request_bytes(stream=True))
    assert exchange.stream is True

    relayed = b"".join([chunk async for chunk in await service.stream(exchange)])

    assert relayed == UPSTREAM_STREAM
    assert exchange.usage.input_tokens == 9
    assert exchange.usage.output_tokens == 12
    assert exchange.status == 200


async def test_a_stream_cut_short_ends_with_an_anthropic_error_event(service, provider):
    provider.stream_bytes = UPSTREAM_STREAM.split(b"event: content_block_stop")[0]
    exchange = await start(service, request_bytes(stream=True))

    chunks = [chunk async for chunk in await service.stream(exchange)]

    last = chunks[-1]
    assert last.startswith(b"event: error\ndata: ")
    payload = orjson.loads(last.split(b"data: ", 1)[1])
    assert payload["type"] == "error"
    assert payload["error"]["type"] == StreamInterrupted.anthropic_type
    assert b"".join(chunks[:-1]) == provider.stream_bytes
    assert exchange.status == 502


async def test_a_client_that_goes_away_closes_the_upstream_stream(service, provider):
    exchange = await start(service, request_bytes(stream=True))
    chunks = await service.stream(exchange)

    first = await anext(chunks)
    await chunks.aclose()

    assert first.startswith(b"event: message_start")
    assert provider.closed_streams == 1
    assert exchange.status == 499
    assert exchange.settled


async def test_events_without_raw_bytes_are_framed_not_lost(service, provider):
    exchange = await start(service, request_bytes(stream=True))
    event = SSEEvent(name="ping", data=b'{"type":"ping"}', raw=b"")

    async def one_event():
        yield event

    chunks = [
        chunk
        async for chunk in service._relay(
            exchange, EventStream(one_event(), _noop_close)
        )
    ]

    assert chunks[0] == b'event: ping\ndata: {"type":"ping"}\n\n'


async def _noop_close() -> None:
    return None


# Token counting


async def count(service: AnthropicMessagesService, raw: bytes):
    exchange = await service.start_count(
        client=CLIENT, body=orjson.loads(raw), raw_body=raw, options=OPTIONS
    )
    return await service.count(exchange), exchange


def count_bytes(**fields: object) -> bytes:
    body = {
        "model": "claude-haiku-4-5",
        "messages": [{"role": "user", "content": "Hello there, how are you today?"}],
        **fields,
    }
    return orjson.dumps(body)


async def test_count_tokens_passes_through_to_the_upstream(service, provider):
    raw = count_bytes(tools=[{"name": "t", "input_schema": {"type": "object"}}])

    result, exchange = await count(service, raw)

    assert result.payload == {"input_tokens": 4242}
    assert result.estimated is False
    assert exchange.attempts == ["anthropic:ok"]
    assert provider.calls[0].encoded_body() == raw
    assert provider.calls[0].query == {"beta": "true"}


async def test_count_tokens_estimates_when_the_upstream_is_unavailable(
    service, provider
):
    provider.count_error = UpstreamUnavailable(upstream_status=529)

    result, exchange = await count(service, count_bytes())

    assert result.estimated is True
    assert exchange.provider == "gateway"
    assert exchange.attempts == ["anthropic:error:529"]
    assert 5 <= result.payload["input_tokens"] <= 30


async def test_count_tokens_estimates_without_calling_an_unconfigured_upstream():
    provider = FakeProvider(configured=False)
    service = AnthropicMessagesService(make_gateway(provider))

    result, exchange = await count(service, count_bytes())

    assert result.estimated is True
    assert provider.calls == []
    assert exchange.attempts == ["anthropic:skipped:not_configured"]


async def test_count_tokens_estimates_while_the_breaker_is_open():
    provider = FakeProvider()
    dispatcher = BreakerDispatcher({"anthropic": provider}, state="open")
    service = AnthropicMessagesService(make_gateway(provider, dispatcher))

    result, exchange = await count(service, count_bytes())

    assert result.estimated is True
    assert provider.calls == []
    assert exchange.attempts == ["anthropic:skipped:open"]


async def test_count_tokens_passes_on_the_upstreams_rejection(service, provider):
    provider.count_error = UpstreamRejected(
        "messages.0.content: bad", status=400, anthropic_type="invalid_request_error"
    )

    with pytest.raises(UpstreamRejected):
        await count(service, count_bytes())


async def test_count_tokens_needs_no_max_tokens_but_a_model(service):
    body = orjson.loads(count_bytes())
    del body["model"]

    with pytest.raises(InvalidRequest, match="^model: Field required"):
        await count(service, orjson.dumps(body))
