"""The stand-in's Anthropic Messages API, checked with the official SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from gateway.standin import StandinServer

MODEL = "claude-haiku-4-5-20251001"
HEADERS = {"x-api-key": "test-key", "anthropic-version": "2023-06-01"}
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "verbose": {"type": "boolean"},
        },
        "required": ["city", "days", "unit"],
    },
}
TIME_TOOL = {"name": "get_time", "input_schema": {"type": "object"}}


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinServer]:
    with StandinServer() as server:
        yield server


@pytest.fixture
def client(standin: StandinServer) -> anthropic.Anthropic:
    httpx.post(f"{standin.url}/_control/reset")
    return anthropic.Anthropic(base_url=standin.url, api_key="k", max_retries=0)


@pytest.fixture
def http(standin: StandinServer) -> Iterator[httpx.Client]:
    httpx.post(f"{standin.url}/_control/reset")
    with httpx.Client(base_url=standin.url, headers=HEADERS) as http_client:
        yield http_client


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def test_create_echoes_the_prompt_with_usage(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL, max_tokens=200, messages=user("Tell me about rivers")
    )

    assert message.id.startswith("msg_")
    assert message.model == MODEL
    assert message.content[0].text.startswith(
        "Stand-in reply to: Tell me about rivers."
    )
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 64
    assert message.usage.input_tokens > 0
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.service_tier == "standard"


def test_replies_are_deterministic(client: anthropic.Anthropic) -> None:
    first = client.messages.create(model=MODEL, max_tokens=100, messages=user("same"))
    second = client.messages.create(model=MODEL, max_tokens=100, messages=user("same"))

    assert first.content == second.content
    assert first.id != second.id


def test_response_headers_carry_request_id_and_rate_limits(http: httpx.Client) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": user("hi")}
    response = http.post("/v1/messages?beta=true", json=body)

    assert response.status_code == 200
    assert response.headers["request-id"].startswith("req_")
    assert int(response.headers["anthropic-ratelimit-requests-remaining"]) >= 0
    assert "anthropic-ratelimit-tokens-limit" in response.headers
    assert "anthropic-ratelimit-requests-reset" in response.headers


def test_bearer_authentication_is_accepted(standin: StandinServer) -> None:
    headers = {"authorization": "Bearer some-key", "anthropic-version": "2026-10-21"}
    body = {"model": MODEL, "max_tokens": 10, "messages": user("hi")}

    response = httpx.post(f"{standin.url}/v1/messages", headers=headers, json=body)

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("headers", "status", "error_type"),
    [
        ({"anthropic-version": "2023-06-01"}, 401, "authentication_error"),
        (
            {"x-api-key": "invalid-key", "anthropic-version": "2023-06-01"},
            401,
            "authentication_error",
        ),
        ({"x-api-key": "k"}, 400, "invalid_request_error"),
    ],
)
def test_header_problems_are_refused(
    standin: StandinServer, headers: dict[str, str], status: int, error_type: str
) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": user("hi")}
    response = httpx.post(f"{standin.url}/v1/messages", headers=headers, json=body)

    assert response.status_code == status
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == error_type
    assert payload["request_id"] == response.headers["request-id"]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "system", "content": "x"}]}, "role"),
        ({"temperature": 0.5, "top_p": 0.9}, "top_p"),
        ({"tool_choice": {"type": "tool", "name": "missing"}}, "missing"),
        ({"stop_sequences": "STOP"}, "stop_sequences"),
    ],
)
def test_invalid_bodies_get_400(
    http: httpx.Client, change: dict[str, Any], fragment: str
) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": user("hi"), **change}
    body = {key: value for key, value in body.items() if value is not None}

    response = http.post("/v1/messages", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert fragment in response.json()["error"]["message"]


def test_more_than_four_breakpoints_get_400(http: httpx.Client) -> None:
    marked = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}
    body = {
        "model": MODEL,
        "max_tokens": 10,
        "messages": [{"role": "user", "content": [marked] * 5}],
    }

    response = http.post("/v1/messages", json=body)

    assert response.status_code == 400
    assert "Found 5" in response.json()["error"]["message"]


@pytest.mark.parametrize("model", ["claude-2-retired", "gpt-4o", "claude-2.1"])
def test_unknown_or_retired_models_get_404(
    client: anthropic.Anthropic, model: str
) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(model=model, max_tokens=10, messages=user("hi"))

    assert caught.value.body["error"]["type"] == "not_found_error"


def test_alias_is_accepted_and_echoed(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=10, messages=user("hi")
    )

    assert message.model == "claude-sonnet-4-5"


def test_max_tokens_cuts_the_reply(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=MODEL, max_tokens=5, messages=user("hi"))

    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 5


def test_stop_sequence_ends_the_reply(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=100,
        messages=user("alpha beta gamma"),
        stop_sequences=["gamma", "never"],
    )

    assert message.stop_reason == "stop_sequence"
    assert message.stop_sequence == "gamma"
    assert message.content[0].text == "Stand-in reply to: alpha beta "


def test_stream_accumulates_to_the_same_text(client: anthropic.Anthropic) -> None:
    created = client.messages.create(model=MODEL, max_tokens=200, messages=user("hi"))
    with client.messages.stream(
        model=MODEL, max_tokens=200, messages=user("hi")
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()

    assert len(pieces) > 5
    assert final.content[0].text == created.content[0].text
    assert final.usage.output_tokens == created.usage.output_tokens
    assert final.stop_reason == "end_turn"


def test_stream_events_follow_the_documented_order(http: httpx.Client) -> None:
    body = {"model": MODEL, "max_tokens": 100, "stream": True, "messages": user("hi")}
    response = http.post("/v1/messages", json=body)

    events = [
        line.removeprefix("event: ")
        for line in response.text.splitlines()
        if line.startswith("event: ")
    ]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events[:3] == ["message_start", "ping", "content_block_start"]
    assert events[-4:] == [
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_tool_call_is_built_from_the_schema(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=200,
        messages=user("weather?"),
        tools=[WEATHER_TOOL, TIME_TOOL],
    )

    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use"]
    call = message.content[1]
    assert call.id.startswith("toolu_")
    assert call.name == "get_weather"
    assert call.input == {"city": "sample city", "days": 1, "unit": "celsius"}


def test_streamed_tool_input_parses_in_the_sdk(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL,
        max_tokens=200,
        messages=user("weather?"),
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "tool", "name": "get_time"},
    ) as stream:
        final = stream.get_final_message()

    assert final.content[1].name == "get_time"
    assert final.content[1].input == {}
    assert final.stop_reason == "tool_use"


def test_parallel_marker_calls_two_tools(client: anthropic.Anthropic) -> None:
    tools = [WEATHER_TOOL, TIME_TOOL]
    parallel = client.messages.create(
        model=MODEL, max_tokens=200, messages=user("[[parallel]] go"), tools=tools
    )
    single = client.messages.create(
        model=MODEL,
        max_tokens=200,
        messages=user("[[parallel]] go"),
        tools=tools,
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )

    assert [b.name for b in parallel.content if b.type == "tool_use"] == [
        "get_weather",
        "get_time",
    ]
    assert len([b for b in single.content if b.type == "tool_use"]) == 1


def test_tool_choice_none_answers_in_text(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=200,
        messages=user("weather?"),
        tools=[WEATHER_TOOL],
        tool_choice={"type": "none"},
    )

    assert message.stop_reason == "end_turn"
    assert [block.type for block in message.content] == ["text"]


def test_tool_result_is_mentioned_in_the_answer(client: anthropic.Anthropic) -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "Sunny, 21C",
                }
            ],
        },
    ]

    message = client.messages.create(
        model=MODEL, max_tokens=200, messages=messages, tools=[WEATHER_TOOL]
    )

    assert message.stop_reason == "end_turn"
    assert "Sunny, 21C" in message.content[0].text


def test_thinking_streams_with_its_signature(client: anthropic.Anthropic) -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024}
    created = client.messages.create(
        model=MODEL, max_tokens=2000, messages=user("think"), thinking=thinking
    )
    with client.messages.stream(
        model=MODEL, max_tokens=2000, messages=user("think"), thinking=thinking
    ) as stream:
        final = stream.get_final_message()

    assert [block.type for block in final.content] == ["thinking", "text"]
    assert final.content[0].signature == created.content[0].signature
    assert final.content[0].thinking == created.content[0].thinking
    assert len(final.content[0].signature) > 20


def test_images_are_counted_in_the_reply(client: anthropic.Anthropic) -> None:
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }
    content = [image, image, {"type": "text", "text": "what is this?"}]

    message = client.messages.create(
        model=MODEL, max_tokens=200, messages=[{"role": "user", "content": content}]
    )

    assert "I see 2 images." in message.content[0].text
    assert message.usage.input_tokens > 2000


def test_refuse_marker_gives_a_refusal(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL, max_tokens=200, messages=user("[[refuse]] please")
    )

    assert message.stop_reason == "refusal"


def test_count_tokens_matches_create_usage(client: anthropic.Anthropic) -> None:
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "system": "You are terse.",
        "messages": user("How long is this prompt?"),
        "tools": [WEATHER_TOOL],
    }

    counted = client.messages.count_tokens(**kwargs)
    created = client.messages.create(max_tokens=200, **kwargs)

    assert counted.input_tokens == created.usage.input_tokens
    assert counted.input_tokens > 40


def test_models_list_pages_in_the_sdk(client: anthropic.Anthropic) -> None:
    models = list(client.models.list())
    one = client.models.retrieve("claude-sonnet-4-5")

    assert MODEL in [model.id for model in models]
    assert one.id == "claude-sonnet-4-5-20250929"
