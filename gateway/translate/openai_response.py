"""Anthropic Messages responses rewritten as OpenAI chat completions.

The mapping follows the vendors' API references. Thinking blocks and server-side tool
blocks have no place in an OpenAI message and are dropped.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.ids import random_hex

# Claude's reasons for stopping, as the OpenAI SDK names them. Anthropic may
# add reasons; anything unknown reads as a normal stop rather than an error.
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def new_completion_id() -> str:
    """Mint an id in OpenAI's ``chatcmpl-`` style."""
    return "chatcmpl-" + random_hex(12)


def finish_reason_for(stop_reason: str | None) -> str:
    """Map Anthropic's ``stop_reason`` to OpenAI's ``finish_reason``."""
    return _FINISH_REASONS.get(stop_reason or "", "stop")


def openai_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Convert Anthropic usage, where ``input_tokens`` is only the uncached part.

    OpenAI counts cached tokens inside ``prompt_tokens``, so the three input
    counts are added up. Anthropic reports some counts as null: those are 0.
    """
    uncached = usage.get("input_tokens") or 0
    written = usage.get("cache_creation_input_tokens") or 0
    read = usage.get("cache_read_input_tokens") or 0
    output = usage.get("output_tokens") or 0
    prompt = uncached + written + read

    return {
        "prompt_tokens": prompt,
        "completion_tokens": output,
        "total_tokens": prompt + output,
        "prompt_tokens_details": {"cached_tokens": read, "cache_write_tokens": written},
        "completion_tokens_details": {"reasoning_tokens": _thinking_tokens(usage)},
    }


def _thinking_tokens(usage: dict[str, Any]) -> int:
    details = usage.get("output_tokens_details") or {}

    return details.get("thinking_tokens") or 0


def to_openai_completion(
    message: dict[str, Any],
    *,
    completion_id: str,
    created: int,
    model: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a ``chat.completion`` from an Anthropic message.

    ``extra`` holds gateway fields such as ``cost``, merged at the top level.
    """
    reply = _assistant_message(message.get("content") or [])
    choice = {
        "index": 0,
        "message": reply,
        "logprobs": None,
        "finish_reason": finish_reason_for(message.get("stop_reason")),
    }
    completion = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [choice],
        "usage": openai_usage(message.get("usage") or {}),
        "system_fingerprint": None,
    }
    if extra:
        completion.update(extra)

    return completion


def _assistant_message(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """Join the text blocks and list the tool calls, in their original order.

    ``content`` is null only when the model called tools and wrote nothing,
    as OpenAI does; otherwise a client reading it always finds a string.
    """
    texts = [block["text"] for block in blocks if block.get("type") == "text"]
    tool_calls = [
        tool_call_for(block) for block in blocks if block.get("type") == "tool_use"
    ]
    content: str | None = "".join(texts)
    if not content and tool_calls:
        content = None

    reply: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        reply["tool_calls"] = tool_calls

    return reply


def tool_call_for(block: dict[str, Any]) -> dict[str, Any]:
    """Translate a ``tool_use`` block; the arguments become compact JSON text."""
    arguments = orjson.dumps(block.get("input") or {}).decode()

    return {
        "id": block["id"],
        "type": "function",
        "function": {"name": block["name"], "arguments": arguments},
    }
