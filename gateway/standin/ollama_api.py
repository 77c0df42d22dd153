"""Ollama's native API: ``/api/tags``, ``/api/version`` and ``/api/chat``.

Also holds what Ollama's two chat surfaces share (the native one here and
the OpenAI-compatible one in :mod:`openai_api`): request checks, the reply
prompt and the prompt token count. Ollama answers every model name it has
pulled and 404s the rest; it has no keys, no caching and no bill.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import orjson

from gateway.standin.anthropic_render import word_groups
from gateway.standin.asgi import Exchange, send_json
from gateway.standin.catalog import LOCAL_MODELS, ModelInfo, is_local_model
from gateway.standin.delivery import Frame, pump_stream
from gateway.standin.errors import StandinError, invalid_request
from gateway.standin.replies import Prompt, Reply, ToolSpec, build_reply
from gateway.standin.tokens import count_text

SPEAKER = "Local stand-in"
OLLAMA_VERSION = "0.12.6"
NDJSON_CONTENT_TYPE = b"application/x-ndjson"
MESSAGE_OVERHEAD_TOKENS = 3
IMAGE_TOKENS = 1000


async def root(exchange: Exchange) -> None:
    """``GET /``: Ollama's liveness answer."""
    await send_json(exchange.send, 200, "Ollama is running")


async def list_tags(exchange: Exchange) -> None:
    """``GET /api/tags``: the pulled models."""
    models = [_tag_json(model) for model in LOCAL_MODELS]
    await send_json(exchange.send, 200, {"models": models})


def _tag_json(model: ModelInfo) -> dict[str, Any]:
    name, _, size = model.id.partition(":")
    family = name.rstrip("0123456789.")
    return {
        "name": model.id,
        "model": model.id,
        "modified_at": model.created_at,
        "size": 1_321_098_329,
        "digest": hashlib.sha256(model.id.encode()).hexdigest(),
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": size.upper(),
            "quantization_level": "Q8_0",
        },
    }


async def version(exchange: Exchange) -> None:
    """``GET /api/version``."""
    await send_json(exchange.send, 200, {"version": OLLAMA_VERSION})


async def chat(exchange: Exchange) -> None:
    """``POST /api/chat``: NDJSON stream by default, one object otherwise."""
    body = check_chat_body(exchange.request.json)
    raw_options = body.get("options")
    options: dict[str, Any] = raw_options if isinstance(raw_options, dict) else {}
    prompt = prompt_from_chat(
        body["messages"],
        tools=body.get("tools"),
        max_tokens=options.get("num_predict"),
        stop=options.get("stop"),
    )
    reply = build_reply(
        prompt, reply_tokens=exchange.state.config.reply_tokens, speaker=SPEAKER
    )
    prompt_tokens = chat_prompt_tokens(body["messages"], body.get("tools"))

    if not exchange.streaming:
        answer = _chat_line(body["model"], _message(reply.text, reply))
        answer.update(_done_fields(reply, prompt_tokens))
        await send_json(exchange.send, 200, answer)
        return

    error = orjson.dumps({"error": _fault_message(exchange)}) + b"\n"
    await pump_stream(
        exchange,
        _chat_frames(body["model"], reply, prompt_tokens),
        content_type=NDJSON_CONTENT_TYPE,
        headers=[],
        error_frame=error,
    )


def check_chat_body(body: Any) -> dict[str, Any]:
    """Check the fields both Ollama chat surfaces need; 404 unknown models."""
    if not isinstance(body, dict):
        raise invalid_request("invalid request body")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise invalid_request("model is required")
    if not is_local_model(body["model"]):
        raise StandinError(
            404,
            f'model "{body["model"]}" not found, try pulling it first',
            error_type="not_found_error",
        )

    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid_request("messages is required and must be a non-empty list")
    if not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages
    ):
        raise invalid_request("each message needs a role")

    return body


def prompt_from_chat(
    messages: list[dict[str, Any]], *, tools: Any, max_tokens: Any, stop: Any
) -> Prompt:
    """Build the reply prompt from OpenAI- or Ollama-style chat messages."""
    prompt = Prompt()
    if isinstance(max_tokens, int) and max_tokens > 0:
        prompt.max_tokens = max_tokens
    if isinstance(stop, str):
        prompt.stop_sequences = [stop]
    elif isinstance(stop, list):
        prompt.stop_sequences = [s for s in stop if isinstance(s, str)]

    # Tool messages after the assistant's call carry the results.
    for message in reversed(messages):
        if message["role"] != "tool":
            break
        prompt.tool_results.insert(0, content_text(message.get("content")))

    users = (m for m in reversed(messages) if m["role"] == "user")
    last_user: dict[str, Any] = next(users, {})
    prompt.user_text = content_text(last_user.get("content"))
    prompt.image_count = count_images(last_user)
    prompt.tools = _tool_specs(tools)

    return prompt


def content_text(content: Any) -> str:
    """The text of a message: a string, or OpenAI content parts."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""

    return "\n".join(
        str(part.get("text", ""))
        for part in content
        if isinstance(part, dict) and part.get("type") == "text"
    )


def count_images(message: dict[str, Any]) -> int:
    """Images in a message: OpenAI ``image_url`` parts or Ollama ``images``."""
    images = message.get("images")
    count = len(images) if isinstance(images, list) else 0
    content = message.get("content")
    if isinstance(content, list):
        count += sum(
            1
            for part in content
            if isinstance(part, dict) and part.get("type") == "image_url"
        )

    return count


def chat_prompt_tokens(messages: list[dict[str, Any]], tools: Any) -> int:
    """Count a chat prompt the way the stand-in counts Anthropic prompts."""
    total = 0
    for message in messages:
        total += MESSAGE_OVERHEAD_TOKENS + count_text(
            content_text(message.get("content"))
        )
        total += IMAGE_TOKENS * count_images(message)
        if message.get("tool_calls"):
            total += count_text(orjson.dumps(message["tool_calls"]).decode())

    if isinstance(tools, list) and tools:
        total += count_text(orjson.dumps(tools).decode())

    return total


def _tool_specs(tools: Any) -> list[ToolSpec]:
    specs = []
    for tool in tools if isinstance(tools, list) else ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            parameters = function.get("parameters")
            schema = parameters if isinstance(parameters, dict) else {}
            specs.append(ToolSpec(function["name"], schema))

    return specs


def _chat_frames(model: str, reply: Reply, prompt_tokens: int) -> Iterator[Frame]:
    for piece in word_groups(reply.text):
        yield Frame(
            _ndjson(_chat_line(model, {"role": "assistant", "content": piece})), True
        )

    if reply.tool_calls:
        message = _message("", reply)
        yield Frame(_ndjson(_chat_line(model, message)), True)

    final = _chat_line(model, {"role": "assistant", "content": ""})
    final.update(_done_fields(reply, prompt_tokens))
    yield Frame(_ndjson(final))


def _message(content: str, reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"function": {"name": call.tool_name, "arguments": call.tool_input}}
            for call in reply.tool_calls
        ]

    return message


def _chat_line(model: str, message: dict[str, Any]) -> dict[str, Any]:
    created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    return {
        "model": model,
        "created_at": f"{created}Z",
        "message": message,
        "done": False,
    }


def _done_fields(reply: Reply, prompt_tokens: int) -> dict[str, Any]:
    # Durations are in nanoseconds, derived from the counts so they are
    # plausible and deterministic.
    prompt_ns = prompt_tokens * 100_000
    eval_ns = reply.output_tokens * 5_000_000
    return {
        "done": True,
        "done_reason": "length" if reply.stop_reason == "max_tokens" else "stop",
        "total_duration": 1_000_000 + prompt_ns + eval_ns,
        "load_duration": 1_000_000,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": prompt_ns,
        "eval_count": reply.output_tokens,
        "eval_duration": eval_ns,
    }


def _ndjson(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload) + b"\n"


def _fault_message(exchange: Exchange) -> str:
    fault = exchange.fault
    return (fault.message if fault else None) or "model runner has unexpectedly stopped"
