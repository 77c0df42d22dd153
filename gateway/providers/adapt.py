"""Adapting a Claude request to a local fallback model.

A request written for Claude can carry things a local model does not take:
prompt-caching markers, thinking blocks and the ``thinking`` switch, fields
only Anthropic's API knows, server tools, and images a small text model cannot
see. ``adapt_for_local`` returns a copy without them, still in Anthropic's
shape (the Ollama provider translates it on the wire), and refuses a prompt
that would not fit the local model's context.
"""

from __future__ import annotations

from gateway.services.tokens import estimate_input_tokens

# Top-level fields of an Anthropic request that mean nothing to a local model.
CLAUDE_ONLY_FIELDS = frozenset(
    {
        "cache_control",
        "container",
        "context_management",
        "diagnostics",
        "inference_geo",
        "mcp_servers",
        "metadata",
        "output_config",
        "service_tier",
        "speed",
        "thinking",
        "top_k",
    }
)
THINKING_BLOCKS = frozenset({"thinking", "redacted_thinking"})
IMAGE_NOTE = "[An image was attached here; the fallback model cannot see images.]"
DOCUMENT_NOTE = "[A document was attached here; the fallback model cannot read it.]"
SERVER_TOOL_NOTE = "[A server-side tool ran here; its output is not available.]"

# Room left for the answer when a prompt only just fits: a fallback that can
# write nothing helps nobody.
MIN_ANSWER_TOKENS = 64


class FallbackUnsuitable(Exception):
    """The request cannot go to the local model; the message says why."""


def adapt_for_local(body: dict, *, model: str, context_tokens: int) -> dict:
    """A copy of ``body`` a local model can take, with ``model`` set."""
    adapted = {k: v for k, v in body.items() if k not in CLAUDE_ONLY_FIELDS}
    adapted["model"] = model
    if "system" in body:
        adapted["system"] = _adapt_content(body["system"])
    adapted["messages"] = _adapt_messages(body.get("messages") or [])
    if body.get("tools"):
        adapted["tools"] = [_strip_cache(t) for t in body["tools"] if _is_custom(t)]
        if not adapted["tools"]:
            del adapted["tools"]
            adapted.pop("tool_choice", None)

    prompt_tokens = estimate_input_tokens(adapted)
    room = context_tokens - prompt_tokens
    if room < MIN_ANSWER_TOKENS:
        raise FallbackUnsuitable(
            f"The prompt (about {prompt_tokens} tokens) does not fit the fallback "
            f"model's context of {context_tokens} tokens."
        )
    adapted["max_tokens"] = min(int(body.get("max_tokens") or room), room)

    return adapted


def _adapt_messages(messages: list) -> list[dict]:
    adapted = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = _adapt_content(message.get("content"))
        if content in ("", []):
            # A turn that held only thinking has nothing left to say.
            continue
        adapted.append({"role": message.get("role"), "content": content})

    return adapted


def _adapt_content(content: object) -> object:
    if not isinstance(content, list):
        return content

    adapted = []
    for block in content:
        replacement = _adapt_block(block)
        if replacement is not None:
            adapted.append(replacement)
    return adapted


def _adapt_block(block: object) -> dict | None:
    if not isinstance(block, dict):
        return None

    kind = block.get("type")
    if kind in THINKING_BLOCKS:
        return None
    if kind == "image":
        # TODO: pass images to local models that see them (Ollama takes data
        # URIs); the default fallback model reads text only, so for now every
        # image becomes a note.
        return _text(IMAGE_NOTE)
    if kind == "document":
        return _document_text(block)
    if kind == "tool_result":
        result = _strip_cache(block)
        result["content"] = _adapt_content(block.get("content"))
        return result
    if kind in ("text", "tool_use"):
        return _strip_cache(block)
    # Server tool calls and their results ran inside Anthropic's API.
    return _text(SERVER_TOOL_NOTE)


def _document_text(block: dict) -> dict:
    source = block.get("source") or {}
    if source.get("type") == "text" and isinstance(source.get("data"), str):
        return _text(source["data"])
    return _text(DOCUMENT_NOTE)


def _strip_cache(block: dict) -> dict:
    return {k: v for k, v in block.items() if k != "cache_control"}


def _is_custom(tool: object) -> bool:
    # Server tools (web search, code execution...) carry a dated ``type``;
    # the client's own tools have none, or ``custom``.
    return isinstance(tool, dict) and tool.get("type") in (None, "custom")


def _text(text: str) -> dict:
    return {"type": "text", "text": text}
