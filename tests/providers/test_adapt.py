"""Adapting Claude requests to a local model, and the Ollama wire translation."""

from __future__ import annotations

import pytest

from gateway.providers.adapt import IMAGE_NOTE, FallbackUnsuitable, adapt_for_local
from gateway.providers.ollama_wire import (
    EventTranslator,
    anthropic_message,
    chat_request,
)

CACHE = {"type": "ephemeral"}


def claude_request() -> dict:
    return {
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 64000,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "service_tier": "auto",
        "metadata": {"user_id": "u1"},
        "output_config": {"effort": "high"},
        "mcp_servers": [{"type": "url", "url": "https://example.test"}],
        "system": [{"type": "text", "text": "Be brief.", "cache_control": CACHE}],
        "tools": [
            {
                "name": "lookup",
                "input_schema": {"type": "object"},
                "cache_control": CACHE,
            },
            {"type": "web_search_20250305", "name": "web_search"},
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?", "cache_control": CACHE},
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": "iVBOR",
                        },
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "lookup",
                        "input": {},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "cache_control": CACHE,
                        "content": [{"type": "text", "text": "a cat"}],
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "redacted_thinking", "data": "xyz"}],
            },
        ],
    }


def adapted(**kwargs) -> dict:
    return adapt_for_local(
        claude_request(), model="llama3.2:1b", context_tokens=8192, **kwargs
    )


def test_claude_only_fields_and_thinking_are_dropped():
    body = adapted()

    for name in (
        "thinking",
        "service_tier",
        "metadata",
        "output_config",
        "mcp_servers",
    ):
        assert name not in body
    assert body["model"] == "llama3.2:1b"
    kinds = [b["type"] for m in body["messages"] for b in m["content"]]
    assert "thinking" not in kinds and "redacted_thinking" not in kinds


def test_cache_control_is_removed_everywhere():
    assert "cache_control" not in repr(adapted())


def test_server_tools_are_dropped_and_client_tools_kept():
    assert [tool["name"] for tool in adapted()["tools"]] == ["lookup"]


def test_images_become_a_short_note_for_a_text_model():
    first = adapted()["messages"][0]["content"]

    assert first[1] == {"type": "text", "text": IMAGE_NOTE}


def test_a_turn_left_empty_is_dropped():
    roles = [m["role"] for m in adapted()["messages"]]

    assert roles == ["user", "assistant", "user"]


def test_max_tokens_is_capped_to_the_room_left_in_the_context():
    body = adapted()

    assert 0 < body["max_tokens"] < 8192


def test_a_prompt_beyond_the_context_is_refused_with_the_numbers():
    request = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "word " * 5000}],
    }

    with pytest.raises(FallbackUnsuitable, match="context of 1000 tokens"):
        adapt_for_local(request, model="llama3.2:1b", context_tokens=1000)


def test_the_original_request_is_left_untouched():
    request = claude_request()
    adapt_for_local(request, model="llama3.2:1b", context_tokens=8192)

    assert request == claude_request()


def test_tool_choice_none_sends_no_tools():
    body = chat_request(
        {
            "model": "m",
            "messages": [],
            "tools": [{"name": "t", "input_schema": {}}],
            "tool_choice": {"type": "none"},
        },
        stream=False,
    )

    assert "tools" not in body


def test_a_streamed_answer_asks_for_usage():
    body = chat_request({"model": "m", "messages": []}, stream=True)

    assert body["stream_options"] == {"include_usage": True}


def test_a_length_finish_is_max_tokens():
    message = anthropic_message(
        {
            "choices": [{"message": {"content": "abc"}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 9},
        },
        model="m",
    )

    assert message["stop_reason"] == "max_tokens"
    assert (
        message["usage"]["input_tokens"] == 4 and message["usage"]["output_tokens"] == 9
    )


def test_text_then_tool_call_chunks_make_well_formed_events():
    translator = EventTranslator("m")
    events = translator.feed({"choices": [{"delta": {"content": "Hi"}}]})
    events += translator.feed(
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "function": {"name": "t", "arguments": '{"a":1}'},
                            }
                        ]
                    },
                    "finish_reason": "tool_calls",
                }
            ]
        }
    )
    events += translator.feed(
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 5}}
    )
    events += translator.finish()

    names = [e.name for e in events]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert [e.json()["index"] for e in events if e.name == "content_block_stop"] == [
        0,
        1,
    ]
    final = events[-2].json()
    assert final["delta"]["stop_reason"] == "tool_use"
    assert final["usage"]["output_tokens"] == 5
