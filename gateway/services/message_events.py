"""Between a complete Anthropic message and the stream of events that carries it.

``MessageAccumulator`` rebuilds the message from a stream's events, so a
streamed answer can be stored in the response cache like a non-streamed one.
``replay_events`` goes the other way: it renders a stored message as the event
sequence Anthropic would have sent, so a cached answer served to a streaming
request travels through the same code as a live stream on both API surfaces.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import orjson

from gateway.providers.base import EventStream
from gateway.sse import SSEEvent, encode_event

# Text is replayed in pieces of this many characters: a cached answer reads
# like a stream, at a handful of events for a typical reply.
TEXT_PIECE_CHARS = 400

# Block types whose text (the field named like the type) arrives in deltas.
_STREAMED_TYPES = ("text", "thinking")


class MessageAccumulator:
    """Rebuilds the final message from Anthropic stream events."""

    def __init__(self) -> None:
        self.message: dict | None = None
        self.completed = False
        self.failed = False
        self._json_parts: dict[int, list[str]] = {}

    def observe(self, event: SSEEvent) -> None:
        if self.failed or self.completed:
            return
        handler = _HANDLERS.get(event.name)
        if handler is not None:
            handler(self, event.json())

    def result(self) -> dict | None:
        """The complete message, or None when the stream did not finish cleanly."""
        if not self.completed or self.failed or self.message is None:
            return None
        return self.message

    # Each event's JSON is parsed afresh, so its dicts can be kept as they are.

    def _on_message_start(self, payload: dict) -> None:
        self.message = payload.get("message") or {}
        self.message["content"] = []

    def _on_block_start(self, payload: dict) -> None:
        block = payload.get("content_block") or {}
        if block.get("type") in ("tool_use", "server_tool_use"):
            self._json_parts[len(self._content())] = []
        self._content().append(block)

    def _on_block_delta(self, payload: dict) -> None:
        index, delta = payload.get("index", -1), payload.get("delta") or {}
        content = self._content()
        if not 0 <= index < len(content):
            self.failed = True
            return
        _apply_delta(content[index], delta, self._json_parts.get(index))

    def _on_block_stop(self, payload: dict) -> None:
        index = payload.get("index", -1)
        parts = self._json_parts.pop(index, None)
        if parts is None or not 0 <= index < len(self._content()):
            return
        text = "".join(parts)
        try:
            self._content()[index]["input"] = orjson.loads(text) if text else {}
        except orjson.JSONDecodeError:
            self.failed = True

    def _on_message_delta(self, payload: dict) -> None:
        if self.message is None:
            self.failed = True
            return
        delta = payload.get("delta") or {}
        for name in ("stop_reason", "stop_sequence"):
            if name in delta:
                self.message[name] = delta[name]
        usage = self.message.setdefault("usage", {})
        usage.update(payload.get("usage") or {})

    def _on_message_stop(self, payload: dict) -> None:
        self.completed = self.message is not None

    def _on_error(self, payload: dict) -> None:
        self.failed = True

    def _content(self) -> list:
        if self.message is None:
            self.message = {"content": []}
            self.failed = True
        return self.message["content"]


def _apply_delta(block: dict, delta: dict, json_parts: list[str] | None) -> None:
    kind = delta.get("type")
    if kind == "text_delta":
        block["text"] = block.get("text", "") + delta.get("text", "")
    elif kind == "thinking_delta":
        block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")
    elif kind == "signature_delta":
        block["signature"] = delta.get("signature", "")
    elif kind == "citations_delta":
        block.setdefault("citations", []).append(delta.get("citation"))
    elif kind == "input_json_delta" and json_parts is not None:
        json_parts.append(delta.get("partial_json", ""))


_HANDLERS = {
    "message_start": MessageAccumulator._on_message_start,
    "content_block_start": MessageAccumulator._on_block_start,
    "content_block_delta": MessageAccumulator._on_block_delta,
    "content_block_stop": MessageAccumulator._on_block_stop,
    "message_delta": MessageAccumulator._on_message_delta,
    "message_stop": MessageAccumulator._on_message_stop,
    "error": MessageAccumulator._on_error,
}


def replay_events(message: dict) -> Iterator[SSEEvent]:
    """The Anthropic event sequence that streams ``message``."""
    usage = dict(message.get("usage") or {})
    yield _event(
        "message_start", {"type": "message_start", "message": _envelope(message)}
    )
    for index, block in enumerate(message.get("content") or ()):
        yield from _block_events(index, block)

    delta = {
        "stop_reason": message.get("stop_reason"),
        "stop_sequence": message.get("stop_sequence"),
    }
    yield _event(
        "message_delta", {"type": "message_delta", "delta": delta, "usage": usage}
    )
    yield _event("message_stop", {"type": "message_stop"})


def replay_stream(message: dict) -> EventStream:
    """An ``EventStream`` over the replayed events of a stored message."""

    async def events() -> AsyncIterator[SSEEvent]:
        for event in replay_events(message):
            yield event

    async def close() -> None:
        return None

    return EventStream(events(), close)


def _envelope(message: dict) -> dict:
    # As in a live stream, message_start carries the input usage and a token
    # or so of output; message_delta then reports the cumulative output.
    envelope = {key: value for key, value in message.items() if key != "content"}
    envelope.update(content=[], stop_reason=None, stop_sequence=None)
    usage = dict(message.get("usage") or {})
    usage["output_tokens"] = min(usage.get("output_tokens", 1), 1)
    envelope["usage"] = usage
    return envelope


def _block_events(index: int, block: dict) -> Iterator[SSEEvent]:
    kind = block.get("type")
    if kind in ("tool_use", "server_tool_use"):
        start = {**block, "input": {}}
        deltas = [_json_delta(block.get("input", {}))]
    elif kind in _STREAMED_TYPES:
        start, deltas = _streamed_text_block(block)
    else:
        start, deltas = block, []

    yield _event(
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": start},
    )
    for delta in deltas:
        payload = {"type": "content_block_delta", "index": index, "delta": delta}
        yield _event("content_block_delta", payload)
    yield _event("content_block_stop", {"type": "content_block_stop", "index": index})


def _streamed_text_block(block: dict) -> tuple[dict, list[dict]]:
    field = block["type"]
    start = {**block, field: ""}
    start.pop("citations", None)
    if field == "thinking":
        start["signature"] = ""

    text = block.get(field) or ""
    deltas = [
        {"type": f"{field}_delta", field: text[i : i + TEXT_PIECE_CHARS]}
        for i in range(0, len(text), TEXT_PIECE_CHARS)
    ]
    if field == "text" and "citations" in block:
        start["citations"] = []
        deltas += [
            {"type": "citations_delta", "citation": citation}
            for citation in block["citations"] or ()
        ]
    if field == "thinking" and block.get("signature"):
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    return start, deltas


def _json_delta(value: object) -> dict:
    return {"type": "input_json_delta", "partial_json": orjson.dumps(value).decode()}


def _event(name: str, payload: dict) -> SSEEvent:
    return SSEEvent(
        name=name, data=orjson.dumps(payload), raw=encode_event(name, payload)
    )
