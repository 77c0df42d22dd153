"""Anthropic messages translated into OpenAI chat completions (the vendors' API references)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from openai.types.chat import ChatCompletion

from gateway.translate.openai_response import (
    finish_reason_for,
    new_completion_id,
    openai_usage,
    to_openai_completion,
)

USAGE = {
    "input_tokens": 10,
    "cache_creation_input_tokens": 200,
    "cache_read_input_tokens": 3000,
    "output_tokens": 42,
}


def anthropic_message(
    content: list[dict[str, Any]], stop_reason: str | None = "end_turn", **fields: Any
) -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": USAGE,
        **fields,
    }


def completion_for(message: dict[str, Any], **options: Any) -> dict[str, Any]:
    """Translate, and prove the result parses with the official OpenAI SDK."""
    completion = to_openai_completion(
        message, completion_id="chatcmpl-1", created=1700000000, model="m", **options
    )
    ChatCompletion.model_validate(orjson.loads(orjson.dumps(completion)))

    return completion


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(block_id: str, name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": block_id, "name": name, "input": tool_input}


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
        ("something_new", "stop"),
    ],
)
def test_stop_reasons_map_to_finish_reasons(
    stop_reason: str | None, finish_reason: str
) -> None:
    assert finish_reason_for(stop_reason) == finish_reason


def test_usage_counts_cached_tokens_inside_prompt_tokens() -> None:
    assert openai_usage(USAGE) == {
        "prompt_tokens": 3210,
        "completion_tokens": 42,
        "total_tokens": 3252,
        "prompt_tokens_details": {"cached_tokens": 3000, "cache_write_tokens": 200},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def test_usage_treats_null_and_missing_counts_as_zero() -> None:
    usage = {"input_tokens": 5, "cache_read_input_tokens": None, "output_tokens": 1}

    assert openai_usage(usage)["prompt_tokens"] == 5
    assert openai_usage(usage)["prompt_tokens_details"]["cached_tokens"] == 0
    assert openai_usage({})["total_tokens"] == 0


def test_usage_reports_thinking_tokens_as_reasoning_tokens() -> None:
    usage = {**USAGE, "output_tokens_details": {"thinking_tokens": 30}}

    assert openai_usage(usage)["completion_tokens_details"] == {"reasoning_tokens": 30}


def test_text_answer_becomes_a_complete_chat_completion() -> None:
    completion = completion_for(anthropic_message([text("Hello")]))

    assert completion == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": openai_usage(USAGE),
        "system_fingerprint": None,
    }


def test_text_blocks_are_concatenated() -> None:
    message = anthropic_message([text("Hello, "), text("world.")])

    assert completion_for(message)["choices"][0]["message"]["content"] == (
        "Hello, world."
    )


def test_tool_use_blocks_become_tool_calls_with_compact_json_arguments() -> None:
    blocks = [
        text("Let me check."),
        tool_use("toolu_1", "weather", {"city": "Zürich", "days": [1, 2]}),
        tool_use("toolu_2", "now", {}),
    ]
    completion = completion_for(anthropic_message(blocks, "tool_use"))
    choice = completion["choices"][0]

    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me check."
    assert choice["message"]["tool_calls"] == [
        {
            "id": "toolu_1",
            "type": "function",
            "function": {
                "name": "weather",
                "arguments": '{"city":"Zürich","days":[1,2]}',
            },
        },
        {
            "id": "toolu_2",
            "type": "function",
            "function": {"name": "now", "arguments": "{}"},
        },
    ]


def test_content_is_null_when_the_model_only_called_tools() -> None:
    message = anthropic_message([tool_use("toolu_1", "now", {})], "tool_use")

    assert completion_for(message)["choices"][0]["message"]["content"] is None


def test_content_is_an_empty_string_when_nothing_was_written() -> None:
    message = anthropic_message([], "max_tokens")
    reply = completion_for(message)["choices"][0]["message"]

    assert reply["content"] == ""
    assert "tool_calls" not in reply


def test_thinking_blocks_are_dropped() -> None:
    blocks = [
        {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        text("Answer."),
    ]

    assert completion_for(anthropic_message(blocks))["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Answer.",
        "refusal": None,
    }


def test_refusal_stop_reason_is_reported_as_content_filter() -> None:
    completion = completion_for(anthropic_message([], "refusal"))

    assert completion["choices"][0]["finish_reason"] == "content_filter"


def test_extra_fields_are_merged_at_the_top_level() -> None:
    cost = {"input_tokens": 3210, "output_tokens": 42, "total_cost": 0.0012}
    completion = completion_for(anthropic_message([text("Hi")]), extra={"cost": cost})

    assert completion["cost"] == cost


def test_completion_parses_with_the_openai_sdk_and_exposes_cache_counts() -> None:
    completion = completion_for(anthropic_message([text("Hi")]))
    parsed = ChatCompletion.model_validate(completion)

    assert parsed.usage is not None
    assert parsed.usage.prompt_tokens_details is not None
    assert parsed.usage.prompt_tokens_details.cached_tokens == 3000
    assert parsed.usage.prompt_tokens_details.cache_write_tokens == 200
    assert parsed.choices[0].message.content == "Hi"


def test_completion_ids_look_like_openai_ids_and_differ() -> None:
    first, second = new_completion_id(), new_completion_id()

    assert first.startswith("chatcmpl-")
    assert first != second
