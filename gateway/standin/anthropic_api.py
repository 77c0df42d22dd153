"""The Anthropic API: ``/v1/messages``, ``/v1/messages/count_tokens``, ``/v1/models``.

Handlers check headers and body, account the prompt against the simulated
cache, ask :mod:`replies` for the answer and send it whole or streamed. The
bill is written only once the answer has been delivered in full.
"""

from __future__ import annotations

from typing import Any

from gateway.standin.anthropic_checks import (
    check_body,
    check_breakpoints,
    check_headers,
)
from gateway.standin.anthropic_render import (
    MessageMeta,
    error_event,
    message_frames,
    message_json,
)
from gateway.standin.asgi import Exchange, send_json
from gateway.standin.caching import CacheUsage
from gateway.standin.catalog import CLAUDE_MODELS, ModelInfo, resolve_model
from gateway.standin.delivery import pump_stream
from gateway.standin.errors import StandinError, error_type_for
from gateway.standin.replies import Prompt, Reply, ToolSpec, build_reply, new_id
from gateway.standin.segments import PromptLayout, layout_prompt

SPEAKER = "Stand-in"
LOCAL_SPEAKER = "Local stand-in"
SSE_CONTENT_TYPE = b"text/event-stream; charset=utf-8"
THINKING_ON = ("enabled", "adaptive")


async def create_message(exchange: Exchange) -> None:
    """``POST /v1/messages``: answer a Messages request."""
    body = exchange.request.json
    model = _model_of(body)
    # Ollama checks no key, so requests for its models need none.
    key = "" if model and model.is_local else check_headers(exchange.request.headers)
    check_body(body)
    model = _require_model(model, body["model"])

    layout = layout_prompt(body)
    check_breakpoints(layout)
    usage = _account_cache(exchange, key, model, layout)
    reply = build_reply(
        prompt_from_body(body),
        reply_tokens=exchange.state.config.reply_tokens,
        speaker=LOCAL_SPEAKER if model.is_local else SPEAKER,
    )
    meta = MessageMeta(new_id("msg_"), body["model"], usage)

    tokens = layout.total_tokens + reply.output_tokens
    completed = await _deliver(exchange, meta, reply, tokens)
    if completed and not model.is_local:
        exchange.state.ledger.record(
            model=body["model"],
            prices=model.prices,
            usage=usage,
            output_tokens=reply.output_tokens,
        )


async def count_tokens(exchange: Exchange) -> None:
    """``POST /v1/messages/count_tokens``: count a request's input tokens."""
    check_headers(exchange.request.headers)
    body = check_body(exchange.request.json, count_only=True)
    model = _model_of(body)
    if model is not None and model.is_local:
        # Ollama's Anthropic-compatible surface has no token counting.
        model = None
    _require_model(model, body["model"])

    layout = layout_prompt(body)
    check_breakpoints(layout)

    headers = response_headers(exchange, 0)
    await send_json(exchange.send, 200, {"input_tokens": layout.total_tokens}, headers)


async def list_models(exchange: Exchange) -> None:
    """``GET /v1/models``: the Claude models, in the shape both SDKs page."""
    check_headers(exchange.request.headers)

    data = [model_json(model) for model in CLAUDE_MODELS]
    page = {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"],
        "last_id": data[-1]["id"],
    }
    await send_json(exchange.send, 200, page, response_headers(exchange, 0))


async def get_model(exchange: Exchange) -> None:
    """``GET /v1/models/{id}``: one model, by id or alias."""
    check_headers(exchange.request.headers)

    name = exchange.request.path.removeprefix("/v1/models/")
    model = _require_model(resolve_model(name), name)
    await send_json(
        exchange.send, 200, model_json(model), response_headers(exchange, 0)
    )


def model_json(model: ModelInfo) -> dict[str, Any]:
    """Render one entry of the models list."""
    return {
        "type": "model",
        "id": model.id,
        "display_name": model.display_name,
        "created_at": model.created_at,
    }


def response_headers(exchange: Exchange, tokens: int) -> list[tuple[bytes, bytes]]:
    """Headers every Anthropic answer carries: request id and rate limits."""
    rate_headers = exchange.state.rates.count(tokens)
    return [(b"request-id", exchange.request_id.encode()), *rate_headers]


def prompt_from_body(body: dict[str, Any]) -> Prompt:
    """Extract what the reply depends on from a validated Messages body."""
    prompt = Prompt(max_tokens=body["max_tokens"])
    prompt.stop_sequences = list(body.get("stop_sequences") or ())
    thinking = body.get("thinking") or {}
    prompt.thinking = thinking.get("type") in THINKING_ON
    _read_last_user_message(prompt, body["messages"])
    _read_tools(prompt, body.get("tools") or [], body.get("tool_choice") or {})

    return prompt


def _read_last_user_message(prompt: Prompt, messages: list[dict[str, Any]]) -> None:
    last_user = next((m for m in reversed(messages) if m["role"] == "user"), None)
    if last_user is None:
        return

    content = last_user["content"]
    if isinstance(content, str):
        prompt.user_text = content
        return

    texts = []
    for block in content:
        if block["type"] == "text":
            texts.append(block["text"])
        elif block["type"] == "image":
            prompt.image_count += 1
        elif block["type"] == "tool_result":
            prompt.tool_results.append(_tool_result_text(prompt, block.get("content")))
    prompt.user_text = "\n".join(texts)


def _tool_result_text(prompt: Prompt, content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""

    texts = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif isinstance(block, dict) and block.get("type") == "image":
            prompt.image_count += 1

    return " ".join(texts)


def _read_tools(prompt: Prompt, tools: list[Any], choice: dict[str, Any]) -> None:
    # Server tools (web search and the like) carry a type and no schema; the
    # stand-in only ever calls client tools.
    prompt.tools = [
        ToolSpec(tool["name"], tool["input_schema"])
        for tool in tools
        if isinstance(tool.get("input_schema"), dict)
    ]
    prompt.tool_mode = choice.get("type", "auto")
    prompt.forced_tool = choice.get("name")
    prompt.parallel_tool_use = not choice.get("disable_parallel_tool_use", False)


def _model_of(body: Any) -> ModelInfo | None:
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return None

    return resolve_model(body["model"])


def _require_model(model: ModelInfo | None, name: str) -> ModelInfo:
    if model is None:
        raise StandinError(404, f"model: {name}")

    return model


def _account_cache(
    exchange: Exchange, key: str, model: ModelInfo, layout: PromptLayout
) -> CacheUsage:
    # Ollama's Anthropic-compatible endpoint has no prompt caching.
    if model.is_local:
        return CacheUsage(input_tokens=layout.total_tokens)

    return exchange.state.cache.account(
        scope=(key, model.id), layout=layout, min_tokens=model.min_cache_tokens
    )


async def _deliver(
    exchange: Exchange, meta: MessageMeta, reply: Reply, tokens: int
) -> bool:
    """Send the message whole or streamed; return whether it all went out."""
    headers = response_headers(exchange, tokens)
    if not exchange.streaming:
        await send_json(exchange.send, 200, message_json(meta, reply), headers)
        return True

    return await pump_stream(
        exchange,
        message_frames(meta, reply),
        content_type=SSE_CONTENT_TYPE,
        headers=[*headers, (b"cache-control", b"no-cache")],
        error_frame=_stream_error(exchange),
    )


def _stream_error(exchange: Exchange) -> bytes:
    fault = exchange.fault
    error = StandinError(529, fault.message if fault else None)

    return error_event(error_type_for(error.status), error.message)
