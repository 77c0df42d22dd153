"""Ollama's OpenAI-compatible ``POST /v1/chat/completions``.

Follows what Ollama does rather than what OpenAI does where they differ
(the vendors' API references): ``max_tokens`` only, ``tool_choice`` ignored, tool calls
whole in one chunk, and chunks without a ``usage`` key until the usage
chunk that ``stream_options.include_usage`` asks for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson

from gateway.standin.anthropic_render import word_groups
from gateway.standin.asgi import Exchange, send_json
from gateway.standin.delivery import Frame, pump_stream
from gateway.standin.errors import StandinError, openai_error
from gateway.standin.ollama_api import (
    chat_prompt_tokens,
    check_chat_body,
    prompt_from_chat,
)
from gateway.standin.replies import Reply, build_reply, new_id

SPEAKER = "Local stand-in"
SSE_CONTENT_TYPE = b"text/event-stream"
FINISH_REASONS = {"max_tokens": "length", "tool_use": "tool_calls"}


async def create_completion(exchange: Exchange) -> None:
    """Answer a chat completion, whole or as ``data:`` chunks."""
    body = check_chat_body(exchange.request.json)
    completion = _answer(body, exchange.state.config.reply_tokens)
    headers = [(b"x-request-id", exchange.request_id.encode())]

    if not exchange.streaming:
        await send_json(exchange.send, 200, completion.as_json(), headers)
        return

    options = body.get("stream_options")
    with_usage = isinstance(options, dict) and options.get("include_usage") is True
    fault = exchange.fault
    error = StandinError(529, fault.message if fault else None)
    await pump_stream(
        exchange,
        completion.frames(with_usage),
        content_type=SSE_CONTENT_TYPE,
        headers=headers,
        error_frame=_data(openai_error(error)),
    )


def _answer(body: dict[str, Any], reply_tokens: int) -> _Completion:
    prompt = prompt_from_chat(
        body["messages"],
        tools=body.get("tools"),
        max_tokens=body.get("max_tokens"),
        stop=body.get("stop"),
    )
    reply = build_reply(prompt, reply_tokens=reply_tokens, speaker=SPEAKER)

    return _Completion(
        id=new_id("chatcmpl-"),
        created=int(time.time()),
        model=body["model"],
        reply=reply,
        prompt_tokens=chat_prompt_tokens(body["messages"], body.get("tools")),
    )


class _Completion:
    """One answer, rendered either as a completion or as chunks."""

    def __init__(
        self, *, id: str, created: int, model: str, reply: Reply, prompt_tokens: int
    ) -> None:
        self.id = id
        self.created = created
        self.model = model
        self.reply = reply
        self.prompt_tokens = prompt_tokens

    def as_json(self) -> dict[str, Any]:
        """The non-streaming ``chat.completion`` object."""
        message: dict[str, Any] = {"role": "assistant", "content": self.reply.text}
        if self.reply.tool_calls:
            message["tool_calls"] = self._tool_calls()

        choice = {"index": 0, "message": message, "finish_reason": self._finish()}
        return {
            **self._envelope("chat.completion"),
            "choices": [choice],
            "usage": self._usage(),
        }

    def frames(self, with_usage: bool) -> Iterator[Frame]:
        """The chunks of a stream, ending with ``[DONE]``."""
        for piece in word_groups(self.reply.text):
            yield Frame(self._chunk({"role": "assistant", "content": piece}), True)

        if self.reply.tool_calls:
            delta = {
                "role": "assistant",
                "content": "",
                "tool_calls": self._tool_calls(),
            }
            yield Frame(self._chunk(delta), True)

        closing = self._chunk({"role": "assistant", "content": ""}, self._finish())
        if with_usage:
            usage_chunk = {
                **self._envelope("chat.completion.chunk"),
                "choices": [],
                "usage": self._usage(),
            }
            closing += _data(usage_chunk)
        yield Frame(closing + b"data: [DONE]\n\n")

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return _data({**self._envelope("chat.completion.chunk"), "choices": [choice]})

    def _envelope(self, kind: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_ollama",
        }

    def _tool_calls(self) -> list[dict[str, Any]]:
        return [
            {
                "id": new_id("call_"),
                "index": index,
                "type": "function",
                "function": {
                    "name": call.tool_name,
                    "arguments": orjson.dumps(call.tool_input).decode(),
                },
            }
            for index, call in enumerate(self.reply.tool_calls)
        ]

    def _finish(self) -> str:
        return FINISH_REASONS.get(self.reply.stop_reason, "stop")

    def _usage(self) -> dict[str, int]:
        completion_tokens = self.reply.output_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens,
        }


def _data(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"
