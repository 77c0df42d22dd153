"""The official Anthropic SDK against a live gateway and the stand-in upstream.

Wire-level faithfulness (bytes, headers, recorded streams, a Claude Code
request) is shown in ``test_anthropic_passthrough_live.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from tests.live import LiveGateway, StandIn, gateway_env, start_gateway

pytestmark = pytest.mark.live

HAIKU = "claude-haiku-4-5-20251001"

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}

HELLO = [{"role": "user", "content": "Hello there, gateway."}]

# Most tests here are about what the upstream sends, so they skip the response
# cache's lookup; test_cached_answers_reach_the_sdk is about the cache itself.
FRESH = {"Cache-Control": "no-cache"}


@pytest.fixture
def client(live_gateway: LiveGateway, upstreams) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=live_gateway.url,
        api_key=live_gateway.key,
        max_retries=0,
        default_headers=FRESH,
    )


@pytest.fixture(scope="module")
def strict_gateway(live_dir: Path, standin: StandIn, ollama_standin: StandIn):
    """A gateway without retries, breakers or fallback: upstream errors reach clients."""
    env = gateway_env(
        live_dir / "anthropic-strict",
        anthropic_url=standin.url,
        ollama_url=ollama_standin.url,
        OLLAMA_FALLBACK_ENABLED="false",
        MAX_RETRIES="0",
        CIRCUIT_BREAKER_ENABLED="false",
    )
    server = start_gateway(live_dir / "anthropic-strict", env, name="anthropic-strict")
    yield server
    server.stop()


@pytest.fixture
def strict_client(strict_gateway: LiveGateway, upstreams) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=strict_gateway.url,
        api_key=strict_gateway.key,
        max_retries=0,
        default_headers=FRESH,
    )


def test_create_returns_a_message_with_usage_and_gateway_headers(client, upstreams):
    raw = client.messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=200, messages=HELLO
    )
    message = raw.parse()

    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].text.startswith("Stand-in reply to: Hello there")
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message._request_id == raw.headers["x-request-id"]
    assert raw.headers["x-tokensgate-provider"] == "anthropic"
    assert raw.headers["x-tokensgate-strategy"] == "explicit"
    assert raw.headers["x-cache"] in ("MISS", "BYPASS")


def test_stream_get_final_message_matches_the_streamed_text(client, upstreams):
    upstreams[0].control("POST", "/_control/config", {"chunk_delay_ms": 40})
    arrivals: list[float] = []

    with client.messages.stream(
        model="claude-haiku-4-5", max_tokens=200, messages=HELLO
    ) as stream:
        for _ in stream.text_stream:
            arrivals.append(time.monotonic())
        final = stream.get_final_message()

    assert final.content[0].text.startswith("Stand-in reply to: Hello there")
    assert final.usage.output_tokens > 0
    # With a pause between upstream deltas, a buffering relay would hand
    # every piece over at once, at the end.
    assert len(arrivals) >= 5
    assert arrivals[-1] - arrivals[0] > 0.15


def test_tool_use_without_streaming(client):
    message = client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=300,
        tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
    )

    tool_use = next(block for block in message.content if block.type == "tool_use")
    assert message.stop_reason == "tool_use"
    assert tool_use.name == "get_weather"
    assert tool_use.input == {"city": "sample city"}
    assert tool_use.id.startswith("toolu_")


def test_tool_use_streamed_reassembles_the_arguments(client):
    with client.messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=300,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
    ) as stream:
        final = stream.get_final_message()

    tool_use = next(block for block in final.content if block.type == "tool_use")
    assert final.stop_reason == "tool_use"
    assert tool_use.input == {"city": "sample city"}


def test_thinking_blocks_keep_their_signatures(client, standin: StandIn):
    request = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [{"role": "user", "content": "Why is the sky blue?"}],
    }
    with client.messages.stream(**request) as stream:
        through_gateway = stream.get_final_message()
    direct = anthropic.Anthropic(
        base_url=standin.url, api_key="sk-ant-direct", max_retries=0
    ).messages.create(**request)

    thinking = through_gateway.content[0]
    assert thinking.type == "thinking"
    assert thinking.signature == direct.content[0].signature
    assert thinking.thinking == direct.content[0].thinking


def test_count_tokens_is_answered_by_the_upstream(client, standin: StandIn):
    request = {
        "model": "claude-haiku-4-5",
        "system": "You are terse.",
        "tools": [WEATHER_TOOL],
        "messages": HELLO,
    }
    raw = client.messages.with_raw_response.count_tokens(**request)
    direct = anthropic.Anthropic(
        base_url=standin.url, api_key="sk-ant-direct", max_retries=0
    ).messages.count_tokens(**request)

    assert raw.parse().input_tokens == direct.input_tokens
    assert raw.headers["x-tokensgate-estimated"] == "false"


def test_count_tokens_is_estimated_when_the_upstream_fails(client, upstreams):
    upstreams[0].faults(
        {"kind": "status", "status": 529, "path_prefix": "/v1/messages/count_tokens"}
    )

    raw = client.messages.with_raw_response.count_tokens(
        model="claude-haiku-4-5",
        messages=[{"role": "user", "content": "Count these few words, please."}],
    )

    assert raw.headers["x-tokensgate-estimated"] == "true"
    assert 5 <= raw.parse().input_tokens <= 40
    assert upstreams[0].stats()["requests"].get("/v1/messages/count_tokens") == 1


def test_both_sdks_list_the_models(live_gateway: LiveGateway):
    claude = anthropic.Anthropic(
        base_url=live_gateway.url, api_key=live_gateway.key, max_retries=0
    )
    models = {model.id: model for model in claude.models.list()}
    oai = openai.OpenAI(
        base_url=live_gateway.url + "/v1", api_key=live_gateway.key, max_retries=0
    )
    openai_ids = [model.id for model in oai.models.list()]

    haiku = models[HAIKU]
    assert haiku.type == "model" and haiku.display_name
    assert haiku.created_at.year >= 2000
    assert haiku.lifecycle == "active"
    assert HAIKU in openai_ids
    assert set(openai_ids) == set(models)


def test_beta_calls_carry_the_beta_header_upstream(client, upstreams):
    message = client.beta.messages.create(
        model="claude-haiku-4-5",
        max_tokens=100,
        betas=["interleaved-thinking-2025-05-14", "context-1m-2025-08-07"],
        messages=HELLO,
    )

    sent = upstreams[0].stats()["last_request"]
    assert message.content[0].text
    assert sent["headers"]["anthropic-beta"] == (
        "interleaved-thinking-2025-05-14,context-1m-2025-08-07"
    )


def test_the_installed_sdk_uses_bearer_auth_and_the_new_version(
    live_gateway, upstreams
):
    seen: list[httpx.Request] = []
    claude = anthropic.Anthropic(
        base_url=live_gateway.url,
        api_key=live_gateway.key,
        max_retries=0,
        default_headers=FRESH,
        http_client=anthropic.DefaultHttpxClient(
            event_hooks={"request": [seen.append]}
        ),
    )
    claude.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=HELLO)

    assert seen[0].headers["authorization"] == f"Bearer {live_gateway.key}"
    assert seen[0].headers["anthropic-version"] == "2026-10-21"
    sent = upstreams[0].stats()["last_request"]["headers"]
    assert sent["anthropic-version"] == "2026-10-21"


def test_cached_answers_reach_the_sdk(live_gateway, upstreams):
    claude = anthropic.Anthropic(
        base_url=live_gateway.url, api_key=live_gateway.key, max_retries=0
    )
    request = {
        "model": "claude-haiku-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": f"Cache me {time.time_ns()}"}],
    }

    first = claude.messages.with_raw_response.create(**request)
    again = claude.messages.with_raw_response.create(**request)
    with claude.messages.stream(**request) as stream:
        streamed = stream.get_final_message()

    assert first.headers["x-cache"] == "MISS"
    assert again.headers["x-cache"] == "HIT"
    assert again.parse().content[0].text == first.parse().content[0].text
    assert streamed.content[0].text == first.parse().content[0].text
    assert upstreams[0].stats()["requests"]["/v1/messages"] == 1


# Errors, raised as the SDK's own exception types.


def test_unknown_key_raises_authentication_error(live_gateway):
    claude = anthropic.Anthropic(
        base_url=live_gateway.url, api_key="tg_not-a-real-key", max_retries=0
    )

    with pytest.raises(anthropic.AuthenticationError) as caught:
        claude.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=HELLO)

    assert caught.value.body["error"]["type"] == "authentication_error"
    assert caught.value.request_id
    assert caught.value.body["request_id"] == caught.value.request_id


def test_invalid_body_raises_bad_request_naming_the_field(client, upstreams):
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=100,
            messages=[{"role": "user", "content": [{"type": "text", "text": 42}]}],
        )

    error = caught.value.body["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("messages.0.content.0.text:")
    assert "/v1/messages" not in upstreams[0].stats()["requests"]


def test_upstream_validation_error_passes_through_with_its_message(client):
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=100,
            messages=HELLO,
            extra_body={"temperature": 0.5, "top_p": 0.9},
        )

    assert "cannot both be specified" in caught.value.body["error"]["message"]


def test_unknown_model_raises_not_found(client):
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(
            model="claude-nonexistent-1", max_tokens=50, messages=HELLO
        )

    assert caught.value.body["error"]["type"] == "not_found_error"
    assert "claude-nonexistent-1" in caught.value.body["error"]["message"]


def test_gateway_rate_limit_raises_rate_limit_error(live_gateway, upstreams):
    key = live_gateway.create_client("anthropic-one-rpm", "--rpm", "1")
    claude = anthropic.Anthropic(base_url=live_gateway.url, api_key=key, max_retries=0)
    claude.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=HELLO)

    with pytest.raises(anthropic.RateLimitError) as caught:
        claude.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=HELLO)

    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert int(caught.value.response.headers["retry-after"]) >= 1


def test_upstream_rate_limit_raises_rate_limit_error(strict_client, upstreams):
    upstreams[0].faults({"kind": "status", "status": 429, "retry_after": 7})

    with pytest.raises(anthropic.RateLimitError) as caught:
        strict_client.messages.create(
            model="claude-haiku-4-5", max_tokens=50, messages=HELLO
        )

    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert caught.value.response.headers["retry-after"] == "7"


def test_upstream_overload_raises_overloaded_error(strict_client, upstreams):
    upstreams[0].faults({"kind": "status", "status": 529})

    with pytest.raises(anthropic.OverloadedError) as caught:
        strict_client.messages.create(
            model="claude-haiku-4-5", max_tokens=50, messages=HELLO
        )

    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"
    assert "sk-ant" not in caught.value.response.text
    assert (
        caught.value.response.headers["x-tokensgate-attempts"] == "anthropic:error:529"
    )


def test_upstream_server_error_raises_internal_server_error(strict_client, upstreams):
    upstreams[0].faults({"kind": "status", "status": 500})

    with pytest.raises(anthropic.InternalServerError) as caught:
        strict_client.messages.create(
            model="claude-haiku-4-5", max_tokens=50, messages=HELLO
        )

    assert caught.value.status_code == 502
    assert caught.value.body["error"]["type"] == "api_error"


def test_error_mid_stream_reaches_the_sdk_as_an_error_event(strict_client, upstreams):
    upstreams[0].faults({"kind": "error_event", "after_deltas": 2})
    received: list[str] = []

    stream = strict_client.messages.stream(
        model="claude-haiku-4-5", max_tokens=200, messages=HELLO
    )
    with pytest.raises(anthropic.APIStatusError) as caught, stream as events:
        received.extend(events.text_stream)

    assert len(received) == 2
    assert caught.value.body["error"]["type"] == "overloaded_error"
