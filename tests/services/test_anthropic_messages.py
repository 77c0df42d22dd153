"""The Anthropic surface's service: validation and faithful passthrough."""

from __future__ import annotations

import orjson
import pytest

from gateway.conf import config
from gateway.errors import InvalidRequest, NotFound, StreamInterrupted
from gateway.providers.base import EventStream
from gateway.services.anthropic_messages import AnthropicMessagesService
from gateway.sse import SSEEvent
from tests.services.anthropic_fakes import (
    HAIKU,
    OPTIONS,
    UPSTREAM_MESSAGE,
    UPSTREAM_STREAM,
    FakeProvider,
    make_gateway,
    request_bytes,
    start,
)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def service(provider: FakeProvider) -> AnthropicMessagesService:
    return AnthropicMessagesService(make_gateway(provider))


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
