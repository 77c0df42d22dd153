"""Anthropic stream events rewritten as OpenAI ``chat.completion.chunk`` frames.

The mapping is tabled in docs/openai-surface.md. One translator serves one
response: the caller parses each upstream SSE event's data, feeds it in, and
writes whatever bytes come back (often none) to the client. The translator
keeps the usage and stop reason it has seen, so the caller can settle the
cost even when the stream breaks off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import orjson

from gateway.translate.openai_response import finish_reason_for, openai_usage

DONE = b"data: [DONE]\n\n"

# Anthropic's error types as OpenAI names them. The original type still
# reaches the client as the error's ``code``, so nothing is lost.
_ERROR_TYPES = {
    "invalid_request_error": "invalid_request_error",
    "authentication_error": "authentication_error",
    "permission_error": "permission_error",
    "not_found_error": "not_found_error",
    "request_too_large": "invalid_request_error",
    "rate_limit_error": "rate_limit_error",
}


_Handler = Callable[["OpenAIStreamTranslator", dict[str, Any]], bytes]


def _frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


class OpenAIStreamTranslator:
    """Turn one Anthropic event stream into OpenAI chunks.

    After the stream, ``usage`` holds the Anthropic-shaped usage seen so far,
    ``stop_reason`` the upstream's reason, ``error`` any error event's body,
    and ``output_chars`` the characters generated (text, tool arguments and
    thinking): a basis for estimating output tokens when the upstream never
    reported them. ``final_extra``, when given, is called with the usage just
    before the usage chunk and returns fields (such as ``cost``) to add to it.
    """

    def __init__(
        self,
        completion_id: str,
        created: int,
        model: str,
        include_usage: bool,
        *,
        final_extra: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.include_usage = include_usage
        self.usage: dict[str, Any] = {}
        self.stop_reason: str | None = None
        self.error: dict[str, Any] | None = None
        self.finished = False
        self.output_chars = 0
        self._final_extra = final_extra
        self._envelope = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
        }
        # Anthropic numbers blocks across text, thinking and tools; OpenAI
        # numbers tool calls alone, so block indexes are mapped as they open.
        self._tool_indexes: dict[int, int] = {}
        self._finish_sent = False

    def feed(self, event: dict[str, Any]) -> bytes:
        """Translate one event's data; unknown events and late ones give b""."""
        if self.finished:
            return b""
        handler = self._HANDLERS.get(event.get("type", ""))
        if handler is None:
            return b""

        return handler(self, event)

    def error_chunk(self, message: str, type: str, code: str | None = None) -> bytes:
        """End the stream with an error the OpenAI SDK raises on.

        For failures on the gateway's side after the first byte went out.
        No ``[DONE]`` follows: the SDK stops reading at the error.
        """
        self.finished = True
        error = {"message": message, "type": type, "param": None, "code": code}

        return _frame({"error": error})

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {
            "index": 0,
            "delta": delta,
            "logprobs": None,
            "finish_reason": finish_reason,
        }
        chunk = {**self._envelope, "choices": [choice]}
        # With include_usage, OpenAI sends an explicit null on every chunk
        # before the last one; some clients check for the key.
        if self.include_usage:
            chunk["usage"] = None

        return _frame(chunk)

    def _on_message_start(self, event: dict[str, Any]) -> bytes:
        self._take_usage(event.get("message", {}).get("usage"))

        return self._chunk({"role": "assistant", "content": ""})

    def _on_block_start(self, event: dict[str, Any]) -> bytes:
        block = event.get("content_block", {})
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            return self._text(block["text"])
        if kind != "tool_use":
            return b""

        tool_index = len(self._tool_indexes)
        self._tool_indexes[event.get("index", 0)] = tool_index
        call = {
            "index": tool_index,
            "id": block["id"],
            "type": "function",
            "function": {"name": block["name"], "arguments": ""},
        }

        return self._chunk({"tool_calls": [call]})

    def _on_block_delta(self, event: dict[str, Any]) -> bytes:
        delta = event.get("delta", {})
        kind = delta.get("type")
        if kind == "text_delta":
            return self._text(delta["text"])
        if kind == "input_json_delta":
            return self._arguments(event.get("index", 0), delta["partial_json"])
        if kind == "thinking_delta":
            self.output_chars += len(delta.get("thinking", ""))

        return b""

    def _text(self, text: str) -> bytes:
        if not text:
            return b""
        self.output_chars += len(text)

        return self._chunk({"content": text})

    def _arguments(self, block_index: int, fragment: str) -> bytes:
        """Forward a piece of a tool call's JSON arguments.

        The first fragment is usually empty and would only add a frame.
        """
        tool_index = self._tool_indexes.get(block_index)
        if not fragment or tool_index is None:
            return b""
        self.output_chars += len(fragment)

        call = {"index": tool_index, "function": {"arguments": fragment}}
        return self._chunk({"tool_calls": [call]})

    def _on_message_delta(self, event: dict[str, Any]) -> bytes:
        self._take_usage(event.get("usage"))
        self.stop_reason = event.get("delta", {}).get("stop_reason")

        return self._finish()

    def _finish(self) -> bytes:
        if self._finish_sent:
            return b""
        self._finish_sent = True

        return self._chunk({}, finish_reason_for(self.stop_reason))

    def _on_message_stop(self, event: dict[str, Any]) -> bytes:
        """Close the stream, with the usage chunk first when it was asked for.

        A finish chunk is sent here if no ``message_delta`` came, so that a
        client never sees a stream end without a ``finish_reason``.
        """
        self.finished = True
        pieces = [self._finish()]
        if self.include_usage:
            pieces.append(self._usage_chunk())
        pieces.append(DONE)

        return b"".join(pieces)

    def _usage_chunk(self) -> bytes:
        chunk = {**self._envelope, "choices": [], "usage": openai_usage(self.usage)}
        if self._final_extra is not None:
            chunk.update(self._final_extra(self.usage))

        return _frame(chunk)

    def _on_error(self, event: dict[str, Any]) -> bytes:
        self.error = event.get("error") or {}
        anthropic_type = self.error.get("type") or "api_error"
        message = self.error.get("message") or "The upstream stream failed."
        openai_type = _ERROR_TYPES.get(anthropic_type, "server_error")

        return self.error_chunk(message, openai_type, anthropic_type)

    def _take_usage(self, usage: dict[str, Any] | None) -> None:
        """Merge reported counts; ``output_tokens`` is cumulative, not a delta.

        Newer upstreams repeat the input and cache counts in ``message_delta``;
        older ones send null or nothing there, which must not erase them.
        """
        for key, value in (usage or {}).items():
            if value is not None:
                self.usage[key] = value

    # ``ping`` and ``content_block_stop`` have no OpenAI counterpart, and
    # events added to the protocol later are skipped until mapped here.
    _HANDLERS: ClassVar[dict[str, _Handler]] = {
        "message_start": _on_message_start,
        "content_block_start": _on_block_start,
        "content_block_delta": _on_block_delta,
        "message_delta": _on_message_delta,
        "message_stop": _on_message_stop,
        "error": _on_error,
    }
