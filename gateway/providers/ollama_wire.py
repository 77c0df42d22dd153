"""Anthropic Messages to and from Ollama's OpenAI-compatible chat API.

Pure translation, no I/O. The request goes out as an OpenAI chat request
(the vendors' API references: ``max_tokens``, ``stop``, ``tools``; images only as data
URIs); the answer comes back as an Anthropic message, or, for a stream, as
Anthropic events, so both API surfaces serve a fallback answer unchanged.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from gateway.sse import SSEEvent, encode_event

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def chat_request(body: dict, *, stream: bool) -> dict:
    """The OpenAI chat request for an (already adapted) Anthropic request."""
    request: dict[str, Any] = {
        "model": body["model"],
        "messages": _system_messages(body.get("system")) + _messages(body["messages"]),
        "stream": stream,
    }
    if stream:
        request["stream_options"] = {"include_usage": True}
    for name in ("max_tokens", "temperature", "top_p"):
        if body.get(name) is not None:
            request[name] = body[name]
    if body.get("stop_sequences"):
        request["stop"] = body["stop_sequences"]

    tools = body.get("tools")
    choice = (body.get("tool_choice") or {}).get("type")
    if tools and choice != "none":
        request["tools"] = [_tool(tool) for tool in tools]
    return request


def _system_messages(system: object) -> list[dict]:
    text = _text_of(system)
    return [{"role": "system", "content": text}] if text else []


def _messages(messages: list[dict]) -> list[dict]:
    translated: list[dict] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            translated.append({"role": message["role"], "content": content})
        elif message.get("role") == "assistant":
            translated.append(_assistant_message(content or []))
        else:
            translated.extend(_user_messages(content or []))
    return translated


def _assistant_message(blocks: list[dict]) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": _text_of(blocks)}
    calls = [
        {
            "id": block.get("id"),
            "type": "function",
            "function": {
                "name": block.get("name"),
                "arguments": orjson.dumps(block.get("input") or {}).decode(),
            },
        }
        for block in blocks
        if block.get("type") == "tool_use"
    ]
    if calls:
        message["tool_calls"] = calls
    return message


def _user_messages(blocks: list[dict]) -> list[dict]:
    # Tool results become ``tool`` messages, which OpenAI wants right after
    # the assistant's calls, before any text of the same turn.
    results = [
        {
            "role": "tool",
            "tool_call_id": block.get("tool_use_id"),
            "content": _text_of(block.get("content")),
        }
        for block in blocks
        if block.get("type") == "tool_result"
    ]
    text = _text_of([b for b in blocks if b.get("type") != "tool_result"])
    return results + ([{"role": "user", "content": text}] if text else [])


def _tool(tool: dict) -> dict:
    function = {"name": tool["name"], "parameters": tool.get("input_schema") or {}}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(
        block.get("text", "")
        for block in content
        if isinstance(block, dict) and block.get("type") == "text"
    )


def anthropic_message(completion: dict, *, model: str) -> dict:
    """An Anthropic message for a non-streamed OpenAI completion."""
    choice = (completion.get("choices") or [{}])[0]
    reply = choice.get("message") or {}
    content: list[dict] = []
    if reply.get("content"):
        content.append({"type": "text", "text": reply["content"]})
    calls = reply.get("tool_calls") or []
    content.extend(_tool_use_block(call) for call in calls)

    return {
        "id": new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _stop_reason(choice.get("finish_reason"), bool(calls)),
        "stop_sequence": None,
        "usage": anthropic_usage(completion.get("usage")),
    }


def anthropic_usage(usage: dict | None) -> dict:
    usage = usage or {}
    return {
        "input_tokens": int(usage.get("prompt_tokens") or 0),
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _tool_use_block(call: dict) -> dict:
    function = call.get("function") or {}
    return {
        "type": "tool_use",
        "id": call.get("id") or "toolu_" + secrets.token_hex(12),
        "name": function.get("name", ""),
        "input": _arguments(function.get("arguments")),
    }


def _arguments(arguments: object) -> dict:
    if isinstance(arguments, dict):
        return arguments
    try:
        parsed = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _stop_reason(finish_reason: str | None, called_tools: bool) -> str:
    # Some Ollama versions finish a tool call with "stop".
    if called_tools:
        return "tool_use"
    return STOP_REASONS.get(finish_reason or "stop", "end_turn")


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


class EventTranslator:
    """Turns one stream of OpenAI chunks into Anthropic events.

    ``feed`` takes one parsed chunk and returns the events it produces;
    ``finish`` returns the closing events once ``[DONE]`` arrives. Ollama
    sends each tool call whole in one chunk, so a tool call becomes a
    complete block at once.
    """

    def __init__(self, model: str) -> None:
        self.model = model
        self.started = False
        self._index = -1
        self._closed_index = -1
        self._text_open = False
        self._finish_reason: str | None = None
        self._called_tools = False
        self._usage: dict | None = None

    def feed(self, chunk: dict) -> list[SSEEvent]:
        if "error" in chunk:
            return [_error_event(chunk["error"])]

        events = self._start() if not self.started else []
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            events.extend(self._delta(choice.get("delta") or {}))
            self._finish_reason = choice.get("finish_reason") or self._finish_reason
        return events

    def finish(self) -> list[SSEEvent]:
        events = self._start() if not self.started else []
        events.extend(self._close_block())
        stop_reason = _stop_reason(self._finish_reason, self._called_tools)
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": anthropic_usage(self._usage),
        }
        events.append(_event("message_delta", delta))
        events.append(_event("message_stop", {"type": "message_stop"}))
        return events

    def _start(self) -> list[SSEEvent]:
        self.started = True
        message = {
            "id": new_message_id(),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": anthropic_usage(None),
        }
        return [_event("message_start", {"type": "message_start", "message": message})]

    def _delta(self, delta: dict) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        if delta.get("content"):
            if not self._text_open:
                events.extend(self._open_block({"type": "text", "text": ""}))
                self._text_open = True
            events.append(
                _block_delta(
                    self._index, {"type": "text_delta", "text": delta["content"]}
                )
            )
        for call in delta.get("tool_calls") or ():
            events.extend(self._tool_call(call))
        return events

    def _tool_call(self, call: dict) -> list[SSEEvent]:
        self._called_tools = True
        block = _tool_use_block(call)
        arguments = orjson.dumps(block.pop("input")).decode()
        events = self._open_block({**block, "input": {}})
        events.append(
            _block_delta(
                self._index, {"type": "input_json_delta", "partial_json": arguments}
            )
        )
        events.extend(self._close_block())
        return events

    def _open_block(self, block: dict) -> list[SSEEvent]:
        events = self._close_block()
        self._index += 1
        events.append(
            _event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": self._index,
                    "content_block": block,
                },
            )
        )
        return events

    def _close_block(self) -> list[SSEEvent]:
        if self._index < 0 or self._closed_index == self._index:
            return []
        self._closed_index = self._index
        self._text_open = False
        return [
            _event(
                "content_block_stop",
                {"type": "content_block_stop", "index": self._index},
            )
        ]


def _block_delta(index: int, delta: dict) -> SSEEvent:
    return _event(
        "content_block_delta",
        {"type": "content_block_delta", "index": index, "delta": delta},
    )


def _error_event(error: object) -> SSEEvent:
    message = error.get("message") if isinstance(error, dict) else str(error)
    payload = {
        "type": "error",
        "error": {"type": "api_error", "message": message or "The local model failed."},
    }
    return _event("error", payload)


def _event(name: str, payload: dict) -> SSEEvent:
    return SSEEvent(
        name=name, data=orjson.dumps(payload), raw=encode_event(name, payload)
    )
