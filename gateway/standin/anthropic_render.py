"""Anthropic Messages responses: the JSON body and the SSE event stream.

The stream follows the vendors' API references: every event has its ``event:``
line (the SDKs drop events without one), ``message_start`` carries the full
input and cache usage, a ``ping`` follows, text arrives in several deltas,
tool input starts with an empty ``input_json_delta``, a thinking block ends
with its ``signature_delta``, and ``message_delta`` carries cumulative
output tokens and repeats the input and cache counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.standin.caching import CacheUsage
from gateway.standin.delivery import Frame
from gateway.standin.replies import Reply, ReplyBlock

WORDS_PER_DELTA = 3
JSON_FRAGMENT_CHARS = 16
_WORD = re.compile(r"\s*\S+\s*$|\s*\S+")


@dataclass(frozen=True)
class MessageMeta:
    """What the message envelope says besides its content."""

    id: str
    model: str
    usage: CacheUsage


def usage_json(usage: CacheUsage, output_tokens: int) -> dict[str, Any]:
    """Render Anthropic's ``usage`` object."""
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_creation,
        "cache_read_input_tokens": usage.cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_write_5m,
            "ephemeral_1h_input_tokens": usage.cache_write_1h,
        },
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def message_json(meta: MessageMeta, reply: Reply) -> dict[str, Any]:
    """Render a complete (non-streaming) message."""
    return {
        **_envelope(meta),
        "content": [block_json(block) for block in reply.blocks],
        "stop_reason": reply.stop_reason,
        "stop_sequence": reply.stop_sequence,
        "usage": usage_json(meta.usage, reply.output_tokens),
    }


def block_json(block: ReplyBlock) -> dict[str, Any]:
    """Render one finished content block."""
    if block.type == "tool_use":
        return {
            "type": "tool_use",
            "id": block.tool_id,
            "name": block.tool_name,
            "input": block.tool_input,
        }

    if block.type == "thinking":
        return {
            "type": "thinking",
            "thinking": block.text,
            "signature": block.signature,
        }

    return {"type": "text", "text": block.text}


def message_frames(meta: MessageMeta, reply: Reply) -> Iterator[Frame]:
    """Render a message as the SSE frames of a stream."""
    start = {
        **_envelope(meta),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage_json(meta.usage, 1),
    }
    yield Frame(
        sse("message_start", {"type": "message_start", "message": start})
        + sse("ping", {"type": "ping"})
    )

    for index, block in enumerate(reply.blocks):
        yield from _block_frames(index, block)

    yield Frame(_closing_events(meta.usage, reply))


def error_event(error_type: str, message: str) -> bytes:
    """Render the ``error`` event that ends a failed stream."""
    payload = {"type": "error", "error": {"type": error_type, "message": message}}
    return sse("error", payload)


def sse(event: str, payload: dict[str, Any]) -> bytes:
    """Frame one server-sent event, with its ``event:`` line."""
    return b"event: %s\ndata: %s\n\n" % (event.encode(), orjson.dumps(payload))


def word_groups(text: str, size: int = WORDS_PER_DELTA) -> list[str]:
    """Split text into pieces of a few words that join back to the text."""
    words = _WORD.findall(text)
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]


def _envelope(meta: MessageMeta) -> dict[str, Any]:
    return {"id": meta.id, "type": "message", "role": "assistant", "model": meta.model}


def _block_frames(index: int, block: ReplyBlock) -> Iterator[Frame]:
    opening = _opening_block(block)
    yield Frame(
        sse(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": opening},
        )
    )

    for delta in _deltas(block):
        payload = {"type": "content_block_delta", "index": index, "delta": delta}
        yield Frame(sse("content_block_delta", payload), delta=True)

    yield Frame(
        sse("content_block_stop", {"type": "content_block_stop", "index": index})
    )


def _opening_block(block: ReplyBlock) -> dict[str, Any]:
    if block.type == "tool_use":
        return {
            "type": "tool_use",
            "id": block.tool_id,
            "name": block.tool_name,
            "input": {},
        }

    if block.type == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}

    return {"type": "text", "text": ""}


def _deltas(block: ReplyBlock) -> Iterator[dict[str, Any]]:
    if block.type == "tool_use":
        # The API's first fragment is usually empty; clients must cope.
        yield {"type": "input_json_delta", "partial_json": ""}
        for fragment in _json_fragments(block.tool_input):
            yield {"type": "input_json_delta", "partial_json": fragment}
        return

    if block.type == "thinking":
        for piece in word_groups(block.text):
            yield {"type": "thinking_delta", "thinking": piece}
        yield {"type": "signature_delta", "signature": block.signature}
        return

    for piece in word_groups(block.text):
        yield {"type": "text_delta", "text": piece}


def _json_fragments(value: dict[str, Any]) -> list[str]:
    text = orjson.dumps(value).decode()
    size = max(min(JSON_FRAGMENT_CHARS, len(text) // 2), 1)

    return [text[i : i + size] for i in range(0, len(text), size)]


def _closing_events(usage: CacheUsage, reply: Reply) -> bytes:
    delta = {
        "type": "message_delta",
        "delta": {
            "stop_reason": reply.stop_reason,
            "stop_sequence": reply.stop_sequence,
        },
        "usage": {
            "input_tokens": usage.input_tokens,
            "cache_creation_input_tokens": usage.cache_creation,
            "cache_read_input_tokens": usage.cache_read,
            "output_tokens": reply.output_tokens,
        },
    }

    return sse("message_delta", delta) + sse("message_stop", {"type": "message_stop"})
