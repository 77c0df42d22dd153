"""Deterministic replies: the same prompt always gets the same answer.

Each surface turns its request into a :class:`Prompt`; :func:`build_reply`
decides what the "model" says. The reply echoes the start of the last user
text, so tests can tell which prompt reached the upstream, and is padded
with one-token filler words to the configured length, so streams have
enough deltas to observe. Markers in the user text steer the behaviours that
a real model only shows on its own: ``[[parallel]]`` asks for two tool
calls, ``[[refuse]]`` for a refusal.
"""

from __future__ import annotations

import base64
import hashlib
import random
import string
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from gateway.standin.tokens import count_text, truncate_text

PARALLEL_MARKER = "[[parallel]]"
REFUSE_MARKER = "[[refuse]]"
REFUSAL_TEXT = "I can't help with that request."
HEAD_WORDS = 8
RESULT_WORDS = 12
RESULT_CHARS = 200

# Each of these is exactly one cl100k token when preceded by a space, so the
# padding reaches the requested length exactly.
FILLER_WORDS = (
    *("river", "stone", "light", "cloud", "green", "quiet", "morning", "garden"),
    *("window", "paper", "silver", "market", "bridge", "forest", "winter"),
    *("summer", "harbor", "signal"),
)

_ID_ALPHABET = string.ascii_letters + string.digits
_ids = random.Random()


def new_id(prefix: str) -> str:
    """Return a fresh id in Anthropic's style, e.g. ``msg_01AbC...``."""
    return prefix + "01" + "".join(_ids.choices(_ID_ALPHABET, k=22))


@dataclass(frozen=True)
class ToolSpec:
    """A tool the prompt offers: its name and JSON schema."""

    name: str
    input_schema: dict[str, Any]


@dataclass
class Prompt:
    """What a reply depends on, independent of the wire format."""

    user_text: str = ""
    tool_results: list[str] = field(default_factory=list)
    image_count: int = 0
    tools: list[ToolSpec] = field(default_factory=list)
    tool_mode: str = "auto"
    forced_tool: str | None = None
    parallel_tool_use: bool = True
    thinking: bool = False
    stop_sequences: list[str] = field(default_factory=list)
    max_tokens: int | None = None


@dataclass
class ReplyBlock:
    """One output block: ``text``, ``thinking`` or ``tool_use``."""

    type: str
    text: str = ""
    signature: str = ""
    tool_id: str = ""
    tool_name: str = ""
    tool_input: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        """Output tokens this block costs."""
        if self.type == "tool_use":
            arguments = orjson.dumps(self.tool_input).decode()
            return count_text(self.tool_name) + count_text(arguments)

        return count_text(self.text)


@dataclass
class Reply:
    """The whole answer, with why it stopped."""

    blocks: list[ReplyBlock]
    stop_reason: str
    stop_sequence: str | None
    output_tokens: int

    @property
    def text(self) -> str:
        """The visible text, without thinking."""
        return "".join(block.text for block in self.blocks if block.type == "text")

    @property
    def tool_calls(self) -> list[ReplyBlock]:
        """The tool_use blocks, in order."""
        return [block for block in self.blocks if block.type == "tool_use"]


def build_reply(prompt: Prompt, *, reply_tokens: int, speaker: str) -> Reply:
    """Answer ``prompt``; ``speaker`` names the upstream in the text."""
    planned = _plan_blocks(prompt, reply_tokens, speaker)
    blocks, stop_sequence = _apply_stop_sequences(planned, prompt.stop_sequences)
    blocks, cut = _apply_budget(blocks, prompt.max_tokens)

    if cut:
        stop_reason, stop_sequence = "max_tokens", None
    elif stop_sequence is not None:
        stop_reason = "stop_sequence"
    elif REFUSE_MARKER in prompt.user_text:
        stop_reason = "refusal"
    elif any(block.type == "tool_use" for block in blocks):
        stop_reason = "tool_use"
    else:
        stop_reason = "end_turn"

    output_tokens = max(sum(block.tokens for block in blocks), 1)
    return Reply(blocks, stop_reason, stop_sequence, output_tokens)


def _plan_blocks(prompt: Prompt, reply_tokens: int, speaker: str) -> list[ReplyBlock]:
    if REFUSE_MARKER in prompt.user_text:
        return [ReplyBlock("text", REFUSAL_TEXT)]

    blocks = [_thinking_block(prompt)] if prompt.thinking else []
    tools = _tools_to_call(prompt)
    if not tools:
        blocks.append(ReplyBlock("text", _answer_text(prompt, reply_tokens, speaker)))
        return blocks

    names = " and ".join(tool.name for tool in tools)
    blocks.append(ReplyBlock("text", f"I will use the {names} tool."))
    for tool in tools:
        blocks.append(
            ReplyBlock(
                "tool_use",
                tool_id=new_id("toolu_"),
                tool_name=tool.name,
                tool_input=sample_object(tool.input_schema),
            )
        )

    return blocks


def _thinking_block(prompt: Prompt) -> ReplyBlock:
    topic = _first_words(prompt.user_text, HEAD_WORDS) or "the conversation"
    thinking = (
        f"The user wrote about {topic}. "
        "A short, deterministic answer is the right response here."
    )
    digest = hashlib.sha256(thinking.encode()).digest()
    signature = base64.b64encode(b"standin-signature:" + digest).decode()

    return ReplyBlock("thinking", thinking, signature=signature)


def _tools_to_call(prompt: Prompt) -> list[ToolSpec]:
    if not prompt.tools or prompt.tool_mode == "none" or prompt.tool_results:
        return []

    if prompt.tool_mode == "tool":
        return [tool for tool in prompt.tools if tool.name == prompt.forced_tool][:1]

    if PARALLEL_MARKER in prompt.user_text and prompt.parallel_tool_use:
        return prompt.tools[:2]

    return prompt.tools[:1]


def _answer_text(prompt: Prompt, reply_tokens: int, speaker: str) -> str:
    if prompt.tool_results:
        result = _first_words(" ".join(prompt.tool_results), RESULT_WORDS)
        head = f"{speaker} received the tool result: {_sentence(result)}"
    else:
        topic = _first_words(prompt.user_text, HEAD_WORDS) or "(no text)"
        head = f"{speaker} reply to: {_sentence(topic)}"

    if prompt.image_count:
        plural = "" if prompt.image_count == 1 else "s"
        head += f" I see {prompt.image_count} image{plural}."

    return _pad(head, reply_tokens)


def _pad(head: str, reply_tokens: int) -> str:
    missing = reply_tokens - count_text(head)
    if missing <= 0:
        return head

    filler = (FILLER_WORDS[i % len(FILLER_WORDS)] for i in range(missing))
    return head + " " + " ".join(filler)


def _first_words(text: str, count: int) -> str:
    # Capped in characters too: minified JSON has no spaces, and one "word"
    # could otherwise be a whole tool result repeated into the answer.
    return " ".join(text.split()[:count])[:RESULT_CHARS]


def _sentence(words: str) -> str:
    return words if words.endswith((".", "!", "?")) else words + "."


def _apply_stop_sequences(
    blocks: list[ReplyBlock], stop_sequences: list[str]
) -> tuple[list[ReplyBlock], str | None]:
    for position, block in enumerate(blocks):
        if block.type != "text":
            continue

        found = [(block.text.find(s), s) for s in stop_sequences if s in block.text]
        if found:
            index, sequence = min(found, key=lambda match: match[0])
            cut = replace(block, text=block.text[:index])
            return [*blocks[:position], cut], sequence

    return blocks, None


def _apply_budget(
    blocks: list[ReplyBlock], max_tokens: int | None
) -> tuple[list[ReplyBlock], bool]:
    if max_tokens is None:
        return blocks, False

    kept: list[ReplyBlock] = []
    budget = max_tokens
    for block in blocks:
        tokens = block.tokens
        if tokens <= budget:
            kept.append(block)
            budget -= tokens
            continue

        # A text or thinking block is cut mid-way, like a model running out
        # of tokens; a tool call that does not fit is never started.
        if block.type != "tool_use" and budget > 0:
            kept.append(replace(block, text=truncate_text(block.text, budget)))
        return kept, True

    return kept, False


def sample_object(schema: Any, depth: int = 0) -> dict[str, Any]:
    """Build tool input from a JSON schema: required properties only."""
    if not isinstance(schema, dict):
        return {}

    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = schema.get("required")
    required = required if isinstance(required, list) else []

    return {
        str(name): sample_value(properties.get(name), str(name), depth + 1)
        for name in required
    }


def sample_value(schema: Any, name: str, depth: int = 0) -> Any:
    """Return a value that fits ``schema``, e.g. ``"sample city"`` for a string."""
    if not isinstance(schema, dict) or depth > 8:
        return f"sample {name}"

    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]

    options = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(options, list) and options:
        return sample_value(options[0], name, depth + 1)

    return _sample_of_type(schema, name, depth)


def _sample_of_type(schema: dict[str, Any], name: str, depth: int) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")

    if kind == "integer":
        return 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "array":
        items = schema.get("items")
        return [sample_value(items, name, depth + 1)] if items else []
    if kind == "object":
        return sample_object(schema, depth)

    return f"sample {name}"
