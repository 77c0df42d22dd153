"""The prompt as the cache sees it: blocks in prefix order, with running totals.

Anthropic matches cached prefixes in the order tools, system, messages, block
by block. :func:`layout_prompt` walks a Messages request in that order and
records, for every block, the tokens of the prompt up to and
including it and a digest of that prefix. The digest is taken over canonical
JSON with ``cache_control`` removed, because moving a breakpoint does not
change the prefix it marks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.standin.tokens import count_text

# Fixed costs the real API adds around content; the exact figures are
# Anthropic's secret, these keep counts plausible for tiny prompts.
MESSAGE_OVERHEAD_TOKENS = 3
IMAGE_TOKENS = 1000
DOCUMENT_TOKENS = 1000


@dataclass(frozen=True)
class Segment:
    """One cacheable block of the prompt."""

    end_tokens: int
    digest: bytes
    ttl: str | None


@dataclass(frozen=True)
class PromptLayout:
    """The prompt's blocks in prefix order and its total input tokens."""

    segments: list[Segment]
    total_tokens: int

    @property
    def breakpoints(self) -> list[int]:
        """Positions of the blocks that carry ``cache_control``."""
        return [i for i, segment in enumerate(self.segments) if segment.ttl]


def layout_prompt(body: dict[str, Any]) -> PromptLayout:
    """Lay out a validated Messages request for caching and counting."""
    builder = _LayoutBuilder()
    for tool in body.get("tools") or ():
        builder.add(b"tool", tool, _json_tokens(_without_cache_control(tool)))

    system = body.get("system")
    if isinstance(system, str) and system:
        builder.add(b"system", system, count_text(system))
    elif isinstance(system, list):
        for block in system:
            builder.add(b"system", block, block_tokens(block))

    for index, message in enumerate(body.get("messages") or ()):
        _add_message(builder, index, message)

    return PromptLayout(builder.segments, builder.total)


def _add_message(builder: _LayoutBuilder, index: int, message: dict[str, Any]) -> None:
    tag = b"%d:%s" % (index, str(message.get("role")).encode())
    content = message.get("content")
    if isinstance(content, str):
        builder.add(tag, content, count_text(content) + MESSAGE_OVERHEAD_TOKENS)
        return

    for position, block in enumerate(content or ()):
        overhead = MESSAGE_OVERHEAD_TOKENS if position == 0 else 0
        builder.add(tag, block, block_tokens(block) + overhead)


class _LayoutBuilder:
    """Accumulates segments while hashing the prefix incrementally."""

    def __init__(self) -> None:
        self.segments: list[Segment] = []
        self.total = 0
        self._hash = hashlib.sha256()

    def add(self, tag: bytes, part: Any, tokens: int) -> None:
        self.total += tokens
        self._hash.update(tag)
        self._hash.update(_canonical(part))
        digest = self._hash.copy().digest()
        self.segments.append(Segment(self.total, digest, _ttl(part)))


def block_tokens(block: Any) -> int:
    """Count the tokens of one content block as the stand-in bills it."""
    if not isinstance(block, dict):
        return count_text(str(block))

    kind = block.get("type")
    if kind == "text":
        return count_text(str(block.get("text", "")))
    if kind == "image":
        return IMAGE_TOKENS
    if kind == "document":
        return _document_tokens(block)
    if kind == "tool_use":
        return count_text(str(block.get("name", ""))) + _json_tokens(block.get("input"))
    if kind == "tool_result":
        return _tool_result_tokens(block.get("content"))
    if kind == "thinking":
        return count_text(str(block.get("thinking", "")))
    if kind == "redacted_thinking":
        return len(str(block.get("data", ""))) // 4

    return _json_tokens(_without_cache_control(block))


def _document_tokens(block: dict[str, Any]) -> int:
    source = block.get("source")
    if isinstance(source, dict) and source.get("type") == "text":
        return count_text(str(source.get("data", "")))

    return DOCUMENT_TOKENS


def _tool_result_tokens(content: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return count_text(content)
    if isinstance(content, list):
        return sum(block_tokens(block) for block in content)

    return _json_tokens(content)


def _json_tokens(value: Any) -> int:
    return count_text(orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode())


def _canonical(part: Any) -> bytes:
    return orjson.dumps(_without_cache_control(part), option=orjson.OPT_SORT_KEYS)


def _without_cache_control(part: Any) -> Any:
    if isinstance(part, dict) and "cache_control" in part:
        return {key: value for key, value in part.items() if key != "cache_control"}

    return part


def _ttl(part: Any) -> str | None:
    if not isinstance(part, dict):
        return None

    marker = part.get("cache_control")
    if not isinstance(marker, dict):
        return None

    return str(marker.get("ttl") or "5m")
