"""Aggressive mode: drop the middle of a long conversation to fit a token budget.

Lossy and opt-in (``X-TokensGate-Optimize: aggressive``). The first user turn
(usually the task) and the most recent turns are kept; the turns between are
replaced by a one-line note telling the model that earlier turns were left
out. Cuts happen only where a user turn starts, so every kept tool result
still follows its tool call; a kept turn whose tool results lost their calls
has those results rewritten as plain text.

This changes the bytes of the prompt after the first turn, so it breaks the
conversation's cached prefix whenever the cut moves. To keep that rare, the
cut does not slide one turn at a time: the tokens to drop are rounded up to
whole steps of half the budget, so the cut, and with it the cached prefix,
stays put while the conversation grows by half a budget.
"""

from __future__ import annotations

from gateway.services.optimizer.base import NOTHING, Context, Outcome
from gateway.services.tokens import MESSAGE_OVERHEAD_TOKENS, content_tokens, count_text

NOTE = "[{count} earlier messages were left out here to fit the token budget.]"


class TrimHistory:
    name = "trim_history"

    def apply(self, body: dict, context: Context) -> Outcome:
        messages = body.get("messages")
        if context.mode != "aggressive" or not _trimmable(messages):
            return NOTHING
        sizes = [
            MESSAGE_OVERHEAD_TOKENS + content_tokens(m.get("content")) for m in messages
        ]
        if sum(sizes) <= context.trim_budget_tokens:
            return NOTHING

        cut = choose_cut(messages, sizes, context.trim_budget_tokens)
        if cut is None:
            return NOTHING
        saved = sum(sizes[1:cut])
        body["messages"] = _trimmed(messages, cut)
        saved -= count_text(NOTE.format(count=cut - 1))
        return Outcome(changed=True, tokens_saved=max(saved, 0))


def _trimmable(messages: object) -> bool:
    return (
        isinstance(messages, list)
        and len(messages) >= 4
        and all(isinstance(m, dict) for m in messages)
        and messages[0].get("role") == "user"
    )


def choose_cut(messages: list[dict], sizes: list[int], budget: int) -> int | None:
    """The index of the first kept message after the head, or None.

    The tokens to drop are rounded up to a whole number of steps (half the
    budget), and the cut is the first user turn past that many tokens. The
    cut therefore moves only when the conversation grows by another step.
    """
    step = max(budget // 2, 1)
    excess = sum(sizes) - budget
    target = -(-excess // step) * step
    before, last_user = 0, None
    for index in range(2, len(messages)):
        before += sizes[index - 1]
        if messages[index].get("role") != "user":
            continue
        if before >= target:
            return index
        last_user = index
    return last_user


def _trimmed(messages: list[dict], cut: int) -> list[dict]:
    head = messages[0]
    first_kept = messages[cut]
    note = {"type": "text", "text": NOTE.format(count=cut - 1)}
    merged = {
        "role": "user",
        "content": _blocks(head.get("content"))
        + [note]
        + _orphaned_results_as_text(_blocks(first_kept.get("content"))),
    }
    return [merged, *messages[cut + 1 :]]


def _blocks(content: object) -> list:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content) if isinstance(content, list) else []


def _orphaned_results_as_text(blocks: list) -> list:
    """Tool results whose calls were cut, rewritten as text blocks."""
    rewritten = []
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            rewritten.append(
                {"type": "text", "text": "Tool result: " + _result_text(block)}
            )
        else:
            rewritten.append(block)
    return rewritten


def _result_text(block: dict) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    texts = [
        b.get("text", "")
        for b in content or ()
        if isinstance(b, dict) and b.get("type") == "text"
    ]
    return "\n".join(texts)
