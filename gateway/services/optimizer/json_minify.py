"""Minify JSON in tool results and in text that is nothing but JSON.

Tools often return pretty-printed JSON (``gh api``, ``jq``, most SDKs'
``to_json``), and indentation costs tokens on every later turn. The text is
rewritten only when it parses as a JSON object or array, and the rewrite only
drops whitespace between tokens: strings, numbers, key order and duplicate
keys stay exactly as written, and the result must parse back to the same
value, or the original is kept. Text with anything around the JSON (prose, a
code fence) is left alone.
"""

from __future__ import annotations

import re

import orjson

from gateway.services.optimizer.base import (
    NOTHING,
    Context,
    Outcome,
    TextMemo,
    editable_messages,
    system_blocks,
)
from gateway.services.tokens import count_text

# A JSON string literal, or a run of anything that is neither a quote nor
# whitespace. On valid JSON, joining these drops exactly the insignificant
# whitespace, since whitespace outside strings never separates two tokens
# that would otherwise merge (numbers and literals are always delimited by
# punctuation in a valid document).
_JSON_PIECES = re.compile(r'"(?:[^"\\]|\\.)*"|[^"\s]+', re.DOTALL)

# Below this length the saving is at most a token or two.
MIN_CHARS = 16


def minify_json_text(text: str) -> str | None:
    """The minified text, or None when it is not (only) JSON or is already tight."""
    stripped = text.strip()
    if len(stripped) < MIN_CHARS or stripped[0] not in "[{" or stripped[-1] not in "]}":
        return None
    try:
        value = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return None

    minified = "".join(_JSON_PIECES.findall(stripped))
    if minified == text:
        return None
    try:
        same = orjson.loads(minified) == value
    except orjson.JSONDecodeError:
        same = False
    return minified if same else None


_minify = TextMemo(minify_json_text)


class JsonMinify:
    name = "json_minify"

    def apply(self, body: dict, context: Context) -> Outcome:
        saved = changed = 0
        for block in _candidate_blocks(body):
            for holder, field in _text_slots(block):
                minified = _minify(holder[field])
                if minified is None:
                    continue
                saved += count_text(holder[field]) - count_text(minified)
                holder[field] = minified
                changed += 1

        return Outcome(changed=True, tokens_saved=saved) if changed else NOTHING


def _candidate_blocks(body: dict):
    yield from system_blocks(body)
    for message in editable_messages(body):
        yield from message["content"]


def _text_slots(block: object):
    """(container, key) pairs holding text this transform may rewrite."""
    if not isinstance(block, dict):
        return
    if _is_text_block(block):
        yield block, "text"
    elif block.get("type") == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            yield block, "content"
        elif isinstance(content, list):
            for inner in content:
                if _is_text_block(inner):
                    yield inner, "text"


def _is_text_block(block: object) -> bool:
    return (
        isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    )
