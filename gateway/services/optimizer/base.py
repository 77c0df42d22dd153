"""What every transform shares: its interface, its outcome, and the prompt's parts.

A transform rewrites an Anthropic Messages body in place and reports what it
did. Transforms must keep the prompt cache working across a conversation: a
client resends message N unchanged in every later request, so each transform
rewrites a message from that message alone (and, at most, the messages before
it), never from its distance to the end of the conversation. Message N then
comes out byte for byte the same every time, and so does every prefix that
Anthropic cached. Only breakpoint placement looks at the end of the
conversation, and markers are not part of the cached bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from gateway.services.catalog import ModelInfo

# Assistant turns with thinking must go back exactly as they came (the
# signature covers them), so no transform touches those turns.
THINKING_TYPES = frozenset({"thinking", "redacted_thinking"})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one transform did to one body."""

    changed: bool = False
    tokens_saved: int = 0
    breakpoints: int = 0


NOTHING = Outcome()


@dataclass(slots=True)
class Context:
    """What a transform may need to know besides the body."""

    model: ModelInfo | None
    mode: str
    trim_budget_tokens: int = 32000
    notes: dict[str, int] = field(default_factory=dict)


class Transform(Protocol):
    name: str

    def apply(self, body: dict, context: Context) -> Outcome:
        """Rewrite ``body`` in place and report what changed."""


def editable_messages(body: dict) -> Iterator[dict]:
    """Messages whose content is a block list that transforms may rewrite."""
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if not isinstance(content, list) or _has_thinking(content):
            continue
        yield message


def system_blocks(body: dict) -> list:
    system = body.get("system")
    return system if isinstance(system, list) else []


def _has_thinking(content: list) -> bool:
    return any(isinstance(b, dict) and b.get("type") in THINKING_TYPES for b in content)
