"""The official OpenAI SDK against a live gateway and the stand-in upstream."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.live import LiveGateway, StandIn, gateway_env, start_gateway

pytestmark = pytest.mark.live

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

# A 1x1 transparent PNG.
PNG_PIXEL = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


@pytest.fixture
def client(live_gateway: LiveGateway, upstreams) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=live_gateway.url + "/v1", api_key=live_gateway.key, max_retries=0
    )


@pytest.fixture(scope="module")
def strict_gateway(live_dir: Path, standin: StandIn, ollama_standin: StandIn):
    """A gateway without the Ollama fallback, so upstream errors reach clients."""
    env = gateway_env(
        live_dir / "strict", anthropic_url=standin.url, ollama_url=ollama_standin.url,
        OLLAMA_FALLBACK_ENABLED="false", MAX_RETRIES="0",
        CIRCUIT_BREAKER_ENABLED="false",
    )
    server = start_gateway(live_dir / "strict", env, name="strict")
    yield server
    server.stop()


@pytest.fixture
def strict_client(strict_gateway: LiveGateway, upstreams) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=strict_gateway.url + "/v1", api_key=strict_gateway.key, max_retries=0
    )


def test_non_streaming_completion_has_text_usage_and_cost(client, upstreams):
    raw = client.chat.completions.with_raw_response.create(
        model="claude-haiku-4-5",
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Name three prime numbers."},
        ],
        max_tokens=200,
    )
    completion = raw.parse()

    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    cost = completion.model_extra["cost"]
    assert cost["total_cost"] > 0
    assert cost["input_tokens"] == completion.usage.prompt_tokens
    assert raw.headers["x-tokensgate-model"] == "claude-haiku-4-5-20251001"
    assert raw.headers["x-tokensgate-strategy"] == "explicit"
    assert raw.headers["x-tokensgate-provider"] == "anthropic"
    assert raw.headers["x-request-id"]

    sent = upstreams[0].stats()["last_request"]
    assert sent["body"]["system"][0]["text"] == "You are terse."
    assert sent["body"]["max_tokens"] == 200


def test_request_id_from_the_client_is_echoed(client):
    raw = client.chat.completions.with_raw_response.create(
        model="claude-haiku-4-5",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"X-Request-ID": "trace-1234"},
    )

    assert raw.headers["x-request-id"] == "trace-1234"


def test_streaming_delivers_text_incrementally(client, upstreams):
    upstreams[0].control("POST", "/_control/config", {"chunk_delay_ms": 60})
    arrivals: list[float] = []
    text = ""

    stream = client.chat.completions.create(
        model="claude-haiku-4-5",
        messages=[{"role": "user", "content": "Tell me a long story about rivers."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    usage = None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
            text += chunk.choices[0].delta.content
        if chunk.usage is not None:
            usage = chunk.usage

    assert len(arrivals) >= 5
    # With a delay between upstream deltas, a buffered relay would deliver
    # every piece at once at the end.
    assert arrivals[-1] - arrivals[0] > 0.2
    assert text
    assert usage is not None and usage.completion_tokens > 0


def test_tool_call_round_trip(client, upstreams):
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.chat.completions.create(
        model="claude-sonnet-4-5", messages=messages, tools=[WEATHER_TOOL]
    )
    call = first.choices[0].message.tool_calls[0]

    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert "city" in json.loads(call.function.arguments)

    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 degrees"},
    ]
    second = client.chat.completions.create(
        model="claude-sonnet-4-5", messages=messages, tools=[WEATHER_TOOL]
    )

    assert second.choices[0].finish_reason == "stop"
    sent = upstreams[0].stats()["last_request"]["body"]
    result = sent["messages"][-1]["content"][0]
    assert result["type"] == "tool_result"
    assert result["tool_use_id"] == call.id


def test_streamed_tool_calls_reassemble(client):
    stream = client.chat.completions.create(
        model="claude-sonnet-4-5",
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        stream=True,
    )
    calls: dict[int, dict] = {}
    finish = None
    for chunk in stream:
        choice = chunk.choices[0]
        for piece in choice.delta.tool_calls or []:
            call = calls.setdefault(piece.index, {"id": None, "name": "", "args": ""})
            call["id"] = call["id"] or piece.id
            call["name"] += piece.function.name or ""
            call["args"] += piece.function.arguments or ""
        finish = choice.finish_reason or finish

    assert finish == "tool_calls"
    assert calls[0]["name"] == "get_weather"
    assert calls[0]["id"].startswith("toolu_")
    assert "city" in json.loads(calls[0]["args"])


def test_images_are_sent_as_base64_and_url_sources(client, upstreams):
    client.chat.completions.create(
        model="claude-sonnet-4-5",
        messages=[{
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe these."},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_PIXEL}"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            ],
        }],
    )

    blocks = upstreams[0].stats()["last_request"]["body"]["messages"][0]["content"]
    assert blocks[1]["source"] == {"type": "base64", "media_type": "image/png", "data": PNG_PIXEL}
    assert blocks[2]["source"] == {"type": "url", "url": "https://example.com/cat.jpg"}


def test_auto_routing_picks_the_cheap_model_for_short_prompts(client):
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hi"}]
    )

    assert raw.headers["x-tokensgate-strategy"] == "auto"
    assert raw.headers["x-tokensgate-model"] == "claude-haiku-4-5-20251001"


def test_unknown_key_raises_authentication_error(live_gateway):
    client = openai.OpenAI(
        base_url=live_gateway.url + "/v1", api_key="tg_not-a-real-key", max_retries=0
    )

    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(
            model="claude-haiku-4-5", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.body["type"] == "authentication_error"


def test_n_above_one_is_refused_with_param(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="claude-haiku-4-5", messages=[{"role": "user", "content": "hi"}], n=2
        )

    assert caught.value.body["param"] == "n"


def test_unknown_model_raises_not_found(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )

    assert "gpt-4o" in caught.value.message


def test_malformed_json_gets_an_openai_error_body(live_gateway):
    response = httpx.post(
        live_gateway.url + "/v1/chat/completions",
        content=b'{"model": "claude-haiku-4-5", "messages": [',
        headers={"Authorization": f"Bearer {live_gateway.key}",
                 "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "not valid JSON" in error["message"]


def test_upstream_validation_error_passes_through_as_400(strict_client, upstreams):
    upstreams[0].faults({"kind": "status", "status": 400, "count": 1})

    with pytest.raises(openai.BadRequestError) as caught:
        strict_client.chat.completions.create(
            model="claude-haiku-4-5", messages=[{"role": "user", "content": "hi"}]
        )

    upstream_message = caught.value.body["message"]
    assert caught.value.status_code == 400
    assert upstream_message and "gateway" not in upstream_message.lower()


def test_upstream_outage_is_a_503_without_secrets(strict_client, strict_gateway, upstreams):
    upstreams[0].faults({"kind": "status", "status": 529, "count": 1})

    with pytest.raises(openai.InternalServerError) as caught:
        strict_client.chat.completions.create(
            model="claude-haiku-4-5", messages=[{"role": "user", "content": "hi"}]
        )

    assert caught.value.status_code == 503
    assert "sk-ant" not in caught.value.response.text
    assert caught.value.response.headers["x-tokensgate-attempts"] == "anthropic:error:529"


def test_gateway_key_refused_upstream_is_a_502_naming_no_secret(
    live_dir, standin, ollama_standin, upstreams
):
    env = gateway_env(
        live_dir / "badkey", anthropic_url=standin.url, ollama_url=ollama_standin.url,
        CLAUDE_API_KEY="invalid-key", OLLAMA_FALLBACK_ENABLED="false",
    )
    server = start_gateway(live_dir / "badkey", env, name="badkey")
    try:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.key, max_retries=0)
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(
                model="claude-haiku-4-5", messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        server.stop()

    assert caught.value.status_code == 502
    assert "invalid-key" not in caught.value.response.text
    assert "invalid-key" not in server.log_text()


def test_stream_cut_mid_way_ends_with_an_error_chunk(strict_client, upstreams):
    upstreams[0].faults({"kind": "error_event", "after_deltas": 2, "count": 1})

    stream = strict_client.chat.completions.create(
        model="claude-haiku-4-5",
        messages=[{"role": "user", "content": "Tell me a story."}],
        stream=True,
    )
    received = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk)

    assert received, "the first chunks reached the client before the error"


def test_models_list_returns_the_catalog(client):
    ids = [model.id for model in client.models.list()]

    assert "claude-sonnet-4-5-20250929" in ids
    assert "claude-haiku-4-5-20251001" in ids


def test_health_reports_readiness(live_gateway):
    health = httpx.get(live_gateway.url + "/health").json()

    assert health["status"] == "ok"
    assert health["anthropic"] == "ready"
    assert health["state_store"]["redis"] == "not_configured"
    assert set(health["circuit_breakers"]) >= {"anthropic"}


def test_logs_never_contain_keys_or_prompts(client, live_gateway):
    secret_prompt = "my-secret-prompt-marker-5521"
    client.chat.completions.create(
        model="claude-haiku-4-5", messages=[{"role": "user", "content": secret_prompt}]
    )
    logs = live_gateway.log_text()

    assert secret_prompt not in logs
    assert live_gateway.key not in logs
    assert "sk-ant-standin-upstream-secret" not in logs
    assert '"request_id": "req_' in logs or '"request_id":"req_' in logs
