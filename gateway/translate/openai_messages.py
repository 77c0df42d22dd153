"""OpenAI conversations rewritten as Anthropic system blocks and turns.

Anthropic keeps the system prompt apart from the turns, wants turns to
alternate between user and assistant, and has no tool role: tool results are
blocks inside a user turn. The functions here restructure the conversation
accordingly (the vendors' API references) and translate each kind of content part.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from gateway.errors import InvalidRequest

IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

# Anthropic only accepts tool ids made of these characters, while OpenAI
# clients replay ids minted by any provider they talked to before.
_TOOL_ID_ALLOWED = re.compile(r"[A-Za-z0-9_-]+")
_TOOL_ID_FORBIDDEN = re.compile(r"[^A-Za-z0-9_-]")

# Anthropic has no tool role: tool results travel in a user turn.
_TURN_ROLES = {"user": "user", "assistant": "assistant", "tool": "user"}


def translate_messages(
    messages: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split the conversation into Anthropic's system blocks and turns."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message["role"]
        if role == "system" or role == "developer":
            system.extend(_text_blocks(message.get("content")))
            continue

        blocks = _blocks_for(message, f"messages[{index}]")
        if blocks:
            _append_to_turns(turns, _TURN_ROLES[role], blocks)

    if not turns:
        raise InvalidRequest(
            "messages must hold a message besides system and developer ones.",
            param="messages",
        )

    return system, turns


def _blocks_for(message: dict[str, Any], path: str) -> list[dict[str, Any]]:
    role = message["role"]
    if role == "user":
        return _user_blocks(message, path)
    if role == "assistant":
        return _assistant_blocks(message, path)

    return [_tool_result_block(message)]


def _append_to_turns(
    turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]
) -> None:
    """Merge blocks into the last turn when it has the same role.

    Anthropic wants every ``tool_result`` before any other block of its
    message, so results join the run of results at the front of the turn even
    when a user message slipped in between the tool messages.
    """
    if turns and turns[-1]["role"] == role:
        content = turns[-1]["content"]
    else:
        content = []
        turns.append({"role": role, "content": content})

    if blocks[0]["type"] != "tool_result":
        content.extend(blocks)
        return
    front = 0
    while front < len(content) and content[front]["type"] == "tool_result":
        front += 1
    content[front:front] = blocks


def _text_blocks(content: str | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Turn string or text-part content into text blocks, dropping empty ones.

    Anthropic answers 400 to an empty text block, and an empty part carries
    nothing, so dropping it is the faithful translation.
    """
    if not content:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]

    return [
        {"type": "text", "text": part["text"]}
        for part in content
        if part["type"] == "text" and part["text"]
    ]


def _user_blocks(message: dict[str, Any], path: str) -> list[dict[str, Any]]:
    content = message["content"]
    if isinstance(content, str):
        blocks = _text_blocks(content)
    else:
        blocks = []
        for index, part in enumerate(content):
            blocks.extend(_user_part_blocks(part, f"{path}.content[{index}]"))

    if not blocks:
        raise InvalidRequest(
            f"{path} has no content: Claude does not accept empty messages.",
            param=f"{path}.content",
        )

    return blocks


def _user_part_blocks(part: dict[str, Any], path: str) -> list[dict[str, Any]]:
    kind = part["type"]
    if kind == "text":
        return _text_blocks([part])
    if kind == "image_url":
        return [_image_block(part["image_url"]["url"], f"{path}.image_url.url")]
    if kind == "file":
        return [_document_block(part["file"], f"{path}.file")]

    raise InvalidRequest(
        f"{path} is a {kind} part, which Claude does not accept.", param=path
    )


def _image_block(url: str, path: str) -> dict[str, Any]:
    """Translate an image URL; ``detail`` has no counterpart and is dropped."""
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    if not url.startswith("data:"):
        raise InvalidRequest(
            f"{path} must be an http(s) URL or a base64 data URL.", param=path
        )

    media_type, data = _split_data_url(url, path)
    # "image/jpg" is not a registered type, but browsers and clients produce it.
    if media_type == "image/jpg":
        media_type = "image/jpeg"
    if media_type not in IMAGE_MEDIA_TYPES:
        raise InvalidRequest(
            f"{path} has media type {media_type!r}; Claude accepts image/jpeg, "
            "image/png, image/gif and image/webp.",
            param=path,
        )

    source = {"type": "base64", "media_type": media_type, "data": data}
    return {"type": "image", "source": source}


def _document_block(file: dict[str, Any], path: str) -> dict[str, Any]:
    """Translate an inline PDF; uploaded file ids live at OpenAI, out of reach."""
    file_data = file.get("file_data")
    if not isinstance(file_data, str):
        raise InvalidRequest(
            f"{path}.file_data is required: files uploaded to OpenAI "
            "(file_id) cannot be read by Claude.",
            param=f"{path}.file_data",
        )

    media_type, data = _split_data_url(file_data, f"{path}.file_data")
    if media_type != "application/pdf":
        raise InvalidRequest(
            f"{path}.file_data has media type {media_type!r}; only PDF files "
            "can be sent to Claude.",
            param=f"{path}.file_data",
        )

    source = {"type": "base64", "media_type": media_type, "data": data}
    return {"type": "document", "source": source}


def _split_data_url(url: str, path: str) -> tuple[str, str]:
    """Return the media type and base64 payload of a ``data:`` URL."""
    header, comma, data = url.partition(",")
    if not comma or not header.startswith("data:") or not header.endswith(";base64"):
        raise InvalidRequest(
            f"{path} must be a base64 data URL (data:<media type>;base64,<data>).",
            param=path,
        )
    media_type = header[5:].split(";", 1)[0].strip().lower()

    return media_type, data


def _assistant_blocks(message: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """Text first, then one ``tool_use`` per tool call; refusals are dropped."""
    blocks = _text_blocks(message.get("content"))
    for index, call in enumerate(message.get("tool_calls") or ()):
        blocks.append(_tool_use_block(call, f"{path}.tool_calls[{index}]"))

    # A turn that only held a refusal has nothing Claude can be shown, and
    # dropping it reads to the model like the refusal was never said.
    if not blocks and message.get("refusal") is None:
        raise InvalidRequest(
            f"{path} has no content and no tool_calls.", param=f"{path}.content"
        )

    return blocks


def _tool_use_block(call: dict[str, Any], path: str) -> dict[str, Any]:
    function = call["function"]
    return {
        "type": "tool_use",
        "id": _tool_id(call["id"]),
        "name": function["name"],
        "input": _tool_arguments(function["arguments"], f"{path}.function.arguments"),
    }


def _tool_arguments(arguments: str, path: str) -> dict[str, Any]:
    """Parse a call's JSON arguments, which Anthropic wants as an object.

    An empty string is read as no arguments: several clients send it for
    tools without parameters instead of ``"{}"``.
    """
    if not arguments.strip():
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        raise InvalidRequest(f"{path} is not valid JSON.", param=path) from None
    if not isinstance(parsed, dict):
        raise InvalidRequest(f"{path} must encode a JSON object.", param=path)

    return parsed


def _tool_result_block(message: dict[str, Any]) -> dict[str, Any]:
    """Translate a tool message; empty content is left out, as Anthropic allows."""
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": _tool_id(message["tool_call_id"]),
    }
    content = message["content"]
    if isinstance(content, list):
        content = _text_blocks(content)
    if content:
        block["content"] = content

    return block


def _tool_id(raw: str) -> str:
    """Make an id acceptable to Anthropic, the same way for calls and results."""
    if _TOOL_ID_ALLOWED.fullmatch(raw):
        return raw

    return _TOOL_ID_FORBIDDEN.sub("_", raw)
