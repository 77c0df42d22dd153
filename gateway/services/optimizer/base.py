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

from collections import OrderedDict
from collections.abc import Callable, Iterator
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


class TextMemo:
    """Results of a text rewrite for long texts, least recently used first out.

    A conversation resends its system prompt and history on every turn, so
    the same long texts come back again and again; the rewrite of each is
    computed once. Bounded by the characters of the texts it holds.
    """

    MIN_CHARS = 256

    def __init__(
        self, rewrite: Callable[[str], str | None], max_chars: int = 4 * 1024 * 1024
    ) -> None:
        self.rewrite = rewrite
        self.max_chars = max_chars
        self._results: OrderedDict[str, str | None] = OrderedDict()
        self._chars = 0

    def __call__(self, text: str) -> str | None:
        if len(text) < self.MIN_CHARS:
            return self.rewrite(text)
        if text in self._results:
            self._results.move_to_end(text)
            return self._results[text]

        result = self.rewrite(text)
        if len(text) <= self.max_chars:
            self._results[text] = result
            self._chars += len(text)
            while self._chars > self.max_chars:
                evicted, _ = self._results.popitem(last=False)
                self._chars -= len(evicted)
        return result
