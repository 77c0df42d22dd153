"""Trim trailing whitespace and collapse runs of blank lines, outside code.

Applies to the text blocks of the system prompt and of user and assistant
turns. Left untouched:

- fenced code blocks (``` or ~~~), whose whitespace may be the point;
- text that looks like a diff or patch, where a line of one space is a
  context line;
- tool results, which are program output (JSON in them is handled by
  ``json_minify``);
- leading indentation anywhere, which carries structure in Markdown and code.

Three or more newlines become two (one blank line), and spaces or tabs at the
end of a line are dropped. Two trailing spaces are a Markdown hard line break;
the model reads the newline either way, so dropping them loses nothing it uses.
"""

from __future__ import annotations

import re

from gateway.services.optimizer.base import (
    NOTHING,
    Context,
    Outcome,
    TextMemo,
    editable_messages,
    system_blocks,
)
from gateway.services.tokens import count_text

_FENCE = re.compile(r"^[ \t]*(```|~~~)")
_TRAILING = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n{3,}")
_DIFF_MARKERS = re.compile(r"^(@@ |--- |\+\+\+ |diff --git )", re.MULTILINE)


def tidy_text(text: str) -> str:
    """The text with trailing whitespace and blank-line runs trimmed outside code."""
    if not _untidy(text) or _DIFF_MARKERS.search(text):
        return text
    if "```" not in text and "~~~" not in text:
        return _tidy_prose(text)

    tidy: list[str] = []
    for part, is_code in _segments(text):
        if is_code:
            tidy.append(part)
        elif tidy:
            # The code before ends with its newline, which starts any blank run.
            tidy.append(_tidy_prose("\n" + part)[1:])
        else:
            tidy.append(_tidy_prose(part))
    return "".join(tidy)


def _untidy(text: str) -> bool:
    # Substring tests run at memory speed; most texts are already tidy and
    # never reach the regular expressions.
    return (
        "\n\n\n" in text
        or " \n" in text
        or "\t\n" in text
        or text.endswith((" ", "\t"))
    )


def _tidy_prose(text: str) -> str:
    text = _TRAILING.sub("", text)
    return _BLANK_RUNS.sub("\n\n", text)


def _segments(text: str) -> list[tuple[str, bool]]:
    """Split text into (chunk, is_code) runs at fence lines.

    A fence line belongs to the code it opens or closes. An unclosed fence
    runs to the end of the text, as Markdown renders it.
    """
    segments: list[tuple[str, bool]] = []
    current: list[str] = []
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        match = _FENCE.match(line)
        if fence is None and match:
            _flush(segments, current, False)
            fence = match.group(1)
            current.append(line)
        elif fence is not None and match and match.group(1) == fence:
            current.append(line)
            _flush(segments, current, True)
            fence = None
        else:
            current.append(line)
    _flush(segments, current, fence is not None)
    return segments


def _flush(segments: list[tuple[str, bool]], lines: list[str], is_code: bool) -> None:
    if lines:
        segments.append(("".join(lines), is_code))
        lines.clear()


_tidy = TextMemo(tidy_text)


class Whitespace:
    name = "whitespace"

    def apply(self, body: dict, context: Context) -> Outcome:
        saved = changed = 0
        for block in _text_blocks(body):
            tidy = _tidy(block["text"])
            if tidy == block["text"] or not tidy.strip():
                continue
            saved += count_text(block["text"]) - count_text(tidy)
            block["text"] = tidy
            changed += 1

        return Outcome(changed=True, tokens_saved=saved) if changed else NOTHING


def _text_blocks(body: dict):
    blocks = list(system_blocks(body))
    for message in editable_messages(body):
        blocks.extend(message["content"])
    for block in blocks:
        if _is_text_block(block):
            yield block


def _is_text_block(block: object) -> bool:
    return (
        isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    )
