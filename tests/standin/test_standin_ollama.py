"""The Ollama side: native /api endpoints and the OpenAI-compatible /v1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import orjson
import pytest

from gateway.standin import StandinServer

LOCAL = "llama3.2:1b"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinServer]:
    with StandinServer() as server:
        yield server


@pytest.fixture
def http(standin: StandinServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=standin.url) as client:
        client.post("/_control/reset")
        yield client


@pytest.fixture
def client(standin: StandinServer, http: httpx.Client) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{standin.url}/v1", api_key="ollama", max_retries=0)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def test_tags_and_version(http: httpx.Client) -> None:
    tags = http.get("/api/tags").json()
    version = http.get("/api/version").json()

    names = [model["name"] for model in tags["models"]]
    assert LOCAL in names
    assert tags["models"][0]["details"]["format"] == "gguf"
    assert version["version"]


def test_openai_create_returns_a_completion(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=LOCAL, messages=user("Tell me about lakes")
    )

    choice = completion.choices[0]
    assert completion.object == "chat.completion"
    assert choice.message.content.startswith("Local stand-in reply to: Tell me about")
    assert choice.finish_reason == "stop"
    assert completion.usage.completion_tokens == 64
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_openai_stream_joins_to_the_same_text(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model=LOCAL, messages=user("lakes"))
    stream = client.chat.completions.create(
        model=LOCAL,
        messages=user("lakes"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert len(chunks) > 5
    assert text == whole.choices[0].message.content
    assert finishes[-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 64


def test_openai_max_tokens_gives_length(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=LOCAL, messages=user("lakes"), max_tokens=4
    )

    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 4


def test_openai_tool_call_arrives_whole(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=LOCAL, messages=user("weather?"), tools=TOOLS
    )
    stream = list(
        client.chat.completions.create(
            model=LOCAL, messages=user("weather?"), tools=TOOLS, stream=True
        )
    )

    call = completion.choices[0].message.tool_calls[0]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert orjson.loads(call.function.arguments) == {"city": "sample city"}
    streamed = [c for c in stream if c.choices and c.choices[0].delta.tool_calls]
    assert len(streamed) == 1
    assert streamed[0].choices[0].delta.tool_calls[0].function.arguments == (
        call.function.arguments
    )
    assert stream[-1].choices[0].finish_reason == "tool_calls"


def test_openai_tool_result_is_answered(client: openai.OpenAI) -> None:
    messages = [
        *user("weather?"),
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Rain, 12C"},
    ]

    completion = client.chat.completions.create(
        model=LOCAL, messages=messages, tools=TOOLS
    )

    assert "Rain, 12C" in completion.choices[0].message.content


def test_openai_unknown_model_is_a_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="mystery:7b", messages=user("hi"))

    assert "mystery:7b" in caught.value.body["message"]


def test_native_chat_streams_ndjson(http: httpx.Client) -> None:
    body = {"model": LOCAL, "messages": user("Tell me about lakes")}

    response = http.post("/api/chat", json=body)

    lines = [orjson.loads(line) for line in response.text.splitlines()]
    assert response.headers["content-type"] == "application/x-ndjson"
    assert len(lines) > 5
    assert all(line["done"] is False for line in lines[:-1])
    final = lines[-1]
    assert final["done"] is True
    assert final["done_reason"] == "stop"
    assert final["eval_count"] == 64
    assert final["prompt_eval_count"] > 0
    text = "".join(line["message"]["content"] for line in lines)
    assert text.startswith("Local stand-in reply to: Tell me about lakes.")


def test_native_chat_without_stream_is_one_object(http: httpx.Client) -> None:
    body = {
        "model": LOCAL,
        "messages": user("weather?"),
        "stream": False,
        "tools": TOOLS,
        "options": {"num_predict": 100},
    }

    answer = http.post("/api/chat", json=body).json()

    assert answer["done"] is True
    call = answer["message"]["tool_calls"][0]["function"]
    assert call == {"name": "get_weather", "arguments": {"city": "sample city"}}


def test_native_chat_unknown_model_is_a_404(http: httpx.Client) -> None:
    response = http.post("/api/chat", json={"model": "nope", "messages": user("hi")})

    assert response.status_code == 404
    assert "nope" in response.json()["error"]


def test_anthropic_messages_with_a_local_model(http: httpx.Client) -> None:
    body = {"model": LOCAL, "max_tokens": 50, "messages": user("hi")}

    response = http.post("/v1/messages", json=body)

    assert response.status_code == 200
    assert response.json()["content"][0]["text"].startswith("Local stand-in")
    stats = http.get("/_control/stats").json()
    assert stats["ollama_requests"] == 1
    assert stats["anthropic_requests"] == 0
    assert stats["billing"]["requests"] == 0
