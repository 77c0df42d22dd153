"""The Ollama provider against the stand-in's Ollama endpoints, over real sockets."""

from __future__ import annotations

import pytest

from gateway.errors import (
    StreamInterrupted,
    UpstreamMisconfigured,
    UpstreamUnavailable,
)
from gateway.providers.base import UpstreamCall
from gateway.providers.ollama import OllamaProvider
from tests.live import free_port

pytestmark = pytest.mark.live

MODEL = "llama3.2:1b"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def configure(settings, ollama_standin):
    """Point the gateway's settings at the Ollama stand-in (or elsewhere)."""

    def apply(**overrides: object) -> None:
        settings.TOKENSGATE = {
            **settings.TOKENSGATE,
            "OLLAMA_BASE_URL": ollama_standin.url,
            "OLLAMA_MODEL": MODEL,
            **overrides,
        }

    ollama_standin.reset()
    apply()
    yield apply
    ollama_standin.reset()


@pytest.fixture
async def provider(configure):
    provider = OllamaProvider()
    yield provider
    await provider.aclose()


def call(**fields: object) -> UpstreamCall:
    body = {
        "model": MODEL,
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "Name three prime numbers."}],
    }
    body.update(fields)
    return UpstreamCall(body=body, request_id="req-ollama")


async def collect(stream) -> list:
    return [event async for event in stream]


async def test_a_completion_comes_back_as_an_anthropic_message(provider):
    reply = await provider.create(call(system="You are terse."))
    message = reply.message

    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["model"] == MODEL
    assert message["content"][0]["type"] == "text" and message["content"][0]["text"]
    assert message["stop_reason"] == "end_turn"
    assert (
        message["usage"]["input_tokens"] > 0 and message["usage"]["output_tokens"] > 0
    )


async def test_the_request_goes_out_in_ollamas_openai_shape(provider, ollama_standin):
    await provider.create(
        call(
            system=[{"type": "text", "text": "Be kind."}],
            stop_sequences=["END"],
            temperature=0.2,
        )
    )

    sent = ollama_standin.stats()["last_request"]
    assert sent["path"] == "/v1/chat/completions"
    body = sent["body"]
    assert body["messages"][0] == {"role": "system", "content": "Be kind."}
    assert body["max_tokens"] == 200 and body["stop"] == ["END"]
    assert body["temperature"] == 0.2 and body["stream"] is False


async def test_a_stream_comes_back_as_anthropic_events(provider):
    events = await collect(await provider.stream(call()))
    names = [event.name for event in events]

    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert "content_block_delta" in names
    text = "".join(
        e.json()["delta"].get("text", "")
        for e in events
        if e.name == "content_block_delta"
    )
    assert text
    usage = events[-2].json()["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0


async def test_a_tool_call_comes_back_as_a_tool_use_block(provider):
    reply = await provider.create(call(tools=[WEATHER]))
    tool_use = [b for b in reply.message["content"] if b["type"] == "tool_use"]

    assert reply.message["stop_reason"] == "tool_use"
    assert tool_use[0]["name"] == "get_weather"
    assert isinstance(tool_use[0]["input"], dict) and "city" in tool_use[0]["input"]


async def test_a_streamed_tool_call_is_one_complete_block(provider):
    events = await collect(await provider.stream(call(tools=[WEATHER])))

    starts = [
        e.json()["content_block"] for e in events if e.name == "content_block_start"
    ]
    tool_block = next(b for b in starts if b["type"] == "tool_use")
    json_deltas = [
        e.json()["delta"]["partial_json"]
        for e in events
        if e.name == "content_block_delta"
        and e.json()["delta"]["type"] == "input_json_delta"
    ]
    stop = next(e.json() for e in events if e.name == "message_delta")

    assert tool_block["name"] == "get_weather"
    assert len(json_deltas) == 1 and "city" in json_deltas[0]
    assert stop["delta"]["stop_reason"] == "tool_use"


async def test_a_tool_result_goes_out_as_a_tool_message(provider, ollama_standin):
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny"}
            ],
        },
    ]
    reply = await provider.create(call(messages=messages, tools=[WEATHER]))

    sent = ollama_standin.stats()["last_request"]["body"]["messages"]
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == '{"city":"Paris"}'
    assert sent[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "Sunny"}
    assert "Sunny" in reply.message["content"][0]["text"]


async def test_a_server_error_is_retryable(provider, ollama_standin):
    ollama_standin.faults({"kind": "status", "status": 503})

    with pytest.raises(UpstreamUnavailable) as caught:
        await provider.create(call())

    assert caught.value.retryable and caught.value.upstream_status == 503


async def test_a_missing_model_is_the_operators_problem(provider):
    with pytest.raises(UpstreamMisconfigured) as caught:
        await provider.create(call(model="no-such-model:7b"))

    assert not caught.value.retryable


async def test_a_dropped_connection_before_the_stream_raises_before_returning(
    provider, ollama_standin
):
    ollama_standin.faults({"kind": "drop", "after_deltas": 0})

    with pytest.raises(UpstreamUnavailable):
        await provider.stream(call())


async def test_an_error_mid_stream_becomes_an_anthropic_error_event(
    provider, ollama_standin
):
    ollama_standin.faults({"kind": "error_event", "after_deltas": 2})

    events = await collect(await provider.stream(call()))

    assert events[-1].name == "error"
    assert events[-1].json()["error"]["message"]


async def test_a_stall_mid_stream_is_interrupted_at_the_idle_timeout(
    configure, ollama_standin
):
    configure(STREAM_IDLE_TIMEOUT=0.3)
    provider = OllamaProvider()
    ollama_standin.faults({"kind": "stall", "after_deltas": 1, "seconds": 5})
    try:
        stream = await provider.stream(call())
        with pytest.raises(StreamInterrupted):
            await collect(stream)
    finally:
        await provider.aclose()


async def test_the_probe_reports_a_served_model(provider):
    assert await provider.probe() == "ok"


async def test_the_probe_reports_a_model_not_pulled(configure):
    configure(OLLAMA_MODEL="mistral:7b")
    provider = OllamaProvider()
    try:
        assert await provider.probe() == "model_missing"
    finally:
        await provider.aclose()


async def test_the_probe_reports_an_unreachable_server(configure):
    configure(OLLAMA_BASE_URL=f"http://127.0.0.1:{free_port()}")
    provider = OllamaProvider()
    try:
        assert await provider.probe() == "unreachable"
    finally:
        await provider.aclose()


async def test_the_probe_reports_disabled_when_fallback_is_off(configure):
    configure(OLLAMA_FALLBACK_ENABLED=False)
    provider = OllamaProvider()
    try:
        assert not provider.is_configured()
        assert await provider.probe() == "disabled"
    finally:
        await provider.aclose()
