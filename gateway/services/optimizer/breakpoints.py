"""Automatic prompt-caching breakpoints on the stable prefix.

Anthropic caches the prompt prefix up to each block marked with
``cache_control``, when that prefix reaches the model's minimum cacheable
length (``ModelPrice.min_cacheable_tokens``), and reads the longest cached
prefix at a tenth of the input price. Up to four markers are allowed. This
transform spends the markers the client left free, in this order:

1. the last cacheable block of the conversation, so the next turn, which
   resends all of it, reads everything but its own new messages;
2. the end of the system prompt, shared by every conversation of an app;
3. the end of the previous user turn, where the previous request put its
   last marker: Anthropic only looks back 20 blocks from a marker for an
   earlier entry, and a turn that added more blocks would otherwise miss;
4. the end of the tool definitions, shared even when the system prompt
   varies.

Markers use the default 5-minute TTL and are never placed before a client's
1-hour marker (1h entries must come first), on thinking or empty blocks, or
when the client asked for automatic placement with a top-level
``cache_control``. Markers do not change the cached bytes, so moving the last
one forward each turn keeps earlier prefixes valid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

from gateway.services.optimizer.base import NOTHING, Context, Outcome
from gateway.services.tokens import MESSAGE_OVERHEAD_TOKENS, block_tokens, count_json

MAX_BREAKPOINTS = 4
CACHEABLE_TYPES = frozenset(
    {"text", "image", "document", "tool_use", "tool_result", "search_result"}
)


@dataclass
class Layout:
    """The prompt's markable parts in prefix order, with running token totals."""

    # Counting stops once the prefix reaches this many tokens: past the
    # model's minimum every position qualifies, whatever its exact count.
    enough: int = 0
    parts: list[dict] = field(default_factory=list)
    end_tokens: list[int] = field(default_factory=list)
    markers: int = 0
    last_1h: int = -1
    tools_end: int | None = None
    system_end: int | None = None
    message_ends: list[tuple[str, int | None]] = field(default_factory=list)

    def add(
        self, part: dict, tokens: Callable[[], int], *, cacheable: bool
    ) -> int | None:
        total = self.end_tokens[-1] if self.end_tokens else 0
        if total < self.enough:
            total += tokens()
        self.parts.append(part)
        self.end_tokens.append(total)
        position = len(self.parts) - 1
        self._note_marker(part, position)
        return position if cacheable else None

    def _note_marker(self, part: dict, position: int) -> None:
        marker = part.get("cache_control")
        if marker is None:
            return
        self.markers += 1
        if isinstance(marker, dict) and marker.get("ttl") == "1h":
            self.last_1h = position


def layout_prompt(body: dict, *, enough: int) -> Layout:
    layout = Layout(enough=enough)
    for tool in body.get("tools") or ():
        if isinstance(tool, dict):
            layout.tools_end = layout.add(
                tool, partial(count_json, tool), cacheable=True
            )

    system = body.get("system")
    for block in system if isinstance(system, list) else ():
        if isinstance(block, dict):
            tokens = partial(block_tokens, block)
            end = layout.add(block, tokens, cacheable=_cacheable(block))
            layout.system_end = end if end is not None else layout.system_end

    for message in body.get("messages") or ():
        if isinstance(message, dict):
            _add_message(layout, message)
    return layout


def _add_message(layout: Layout, message: dict) -> None:
    content = message.get("content")
    last: int | None = None
    overhead = MESSAGE_OVERHEAD_TOKENS
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, dict):
            continue
        layout.markers += _nested_markers(block)
        tokens = partial(_plus, block_tokens, block, overhead)
        end = layout.add(block, tokens, cacheable=_cacheable(block))
        last = end if end is not None else last
        overhead = 0
    layout.message_ends.append((message.get("role"), last))


def _plus(count: Callable[[dict], int], block: dict, extra: int) -> int:
    return count(block) + extra


def _cacheable(block: dict) -> bool:
    kind = block.get("type")
    if kind not in CACHEABLE_TYPES:
        return False
    return kind != "text" or bool(block.get("text"))


def _nested_markers(block: dict) -> int:
    inner = block.get("content") if block.get("type") == "tool_result" else None
    if not isinstance(inner, list):
        return 0
    return sum(1 for b in inner if isinstance(b, dict) and "cache_control" in b)


def previous_turn_end(layout: Layout) -> int | None:
    """The end of the user turn before the newest one."""
    user_turns = [end for role, end in layout.message_ends if role == "user"]
    newest_is_user = bool(layout.message_ends) and layout.message_ends[-1][0] == "user"
    earlier = user_turns[:-1] if newest_is_user else user_turns
    return earlier[-1] if earlier else None


def conversation_end(layout: Layout) -> int | None:
    for _, end in reversed(layout.message_ends):
        if end is not None:
            return end
    return None


def below_minimum(body: dict, min_tokens: int) -> bool:
    """Whether a prompt of text blocks alone is surely shorter than ``min_tokens``.

    Most requests are short chat turns far below every model's minimum, and
    counting their tokens to learn that costs more than the rest of the
    optimiser. A token is at least one byte and a character at most four, so
    four tokens per character (one per ASCII character) bound a text's count
    from above without encoding it. Anything but text blocks is left to the
    exact count (False).
    """
    if body.get("tools"):
        return False
    bound = 0
    for content in _contents(body):
        bound += MESSAGE_OVERHEAD_TOKENS
        if isinstance(content, str):
            bound += _token_bound(content)
        for block in content if isinstance(content, list) else ():
            if not isinstance(block, dict):
                continue
            text = block.get("text")
            if block.get("type") != "text" or not isinstance(text, str):
                return False
            bound += _token_bound(text)
        if bound >= min_tokens:
            return False
    return True


def _token_bound(text: str) -> int:
    return len(text) if text.isascii() else 4 * len(text)


def _contents(body: dict) -> Iterator[object]:
    yield body.get("system")
    for message in body.get("messages") or ():
        if isinstance(message, dict):
            yield message.get("content")


class AutoBreakpoints:
    name = "breakpoints"

    def apply(self, body: dict, context: Context) -> Outcome:
        if context.model is None or "cache_control" in body:
            return NOTHING
        min_tokens = context.model.min_cacheable_tokens
        if below_minimum(body, min_tokens):
            return NOTHING
        layout = layout_prompt(body, enough=min_tokens)
        budget = MAX_BREAKPOINTS - layout.markers
        if budget <= 0:
            return NOTHING

        chosen = self._choose(layout, budget, min_tokens)
        for position in chosen:
            layout.parts[position]["cache_control"] = {"type": "ephemeral"}
        return Outcome(changed=True, breakpoints=len(chosen)) if chosen else NOTHING

    def _choose(self, layout: Layout, budget: int, min_tokens: int) -> list[int]:
        candidates = (
            conversation_end(layout),
            layout.system_end,
            previous_turn_end(layout),
            layout.tools_end,
        )
        chosen: list[int] = []
        for position in candidates:
            if position is None or position in chosen or position <= layout.last_1h:
                continue
            if "cache_control" in layout.parts[position]:
                continue
            if layout.end_tokens[position] < min_tokens:
                continue
            chosen.append(position)
            if len(chosen) == budget:
                break
        return chosen
