"""count_tokens on the Anthropic surface: passed through, or estimated locally."""

from __future__ import annotations

import orjson
import pytest

from gateway.errors import InvalidRequest, UpstreamRejected, UpstreamUnavailable
from gateway.services.anthropic_messages import AnthropicMessagesService
from tests.services.anthropic_fakes import (
    CLIENT,
    OPTIONS,
    BreakerDispatcher,
    FakeProvider,
    make_gateway,
)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def service(provider: FakeProvider) -> AnthropicMessagesService:
    return AnthropicMessagesService(make_gateway(provider))


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
