"""Drop exact duplicate content blocks within one message or the system prompt.

Clients that assemble prompts from parts (retrieval results, attachments,
reminders) sometimes include the same block twice in one turn. A later copy
identical to an earlier one in the same list (ignoring ``cache_control``) adds
tokens and nothing else, so it is dropped. Only text, image and document
blocks qualify: tool calls and results are paired by id and never dropped,
and a copy that carries the client's own ``cache_control`` is kept so the
client's breakpoints survive. Duplicates across different messages are kept:
repeating a question in a later turn means something.
"""

from __future__ import annotations

from gateway.services.optimizer.base import (
    NOTHING,
    Context,
    Outcome,
    editable_messages,
    system_blocks,
)
from gateway.services.tokens import block_tokens

DROPPABLE_TYPES = frozenset({"text", "image", "document"})


def without_duplicates(blocks: list) -> tuple[list, int]:
    """The blocks minus later exact copies, and the tokens those copies held."""
    seen: dict[tuple, list[dict]] = {}
    kept: list = []
    saved = 0
    for block in blocks:
        quick = _quick_key(block)
        if quick is None:
            kept.append(block)
            continue
        earlier = seen.setdefault(quick, [])
        if "cache_control" not in block and any(_same(block, e) for e in earlier):
            saved += block_tokens(block)
            continue
        earlier.append(block)
        kept.append(block)
    return kept, saved


def _quick_key(block: object) -> tuple | None:
    """A cheap key that equal blocks share; full comparison happens on a match."""
    if not isinstance(block, dict) or block.get("type") not in DROPPABLE_TYPES:
        return None
    source = block.get("source")
    if isinstance(source, dict):
        payload = source.get("data") or source.get("url") or source.get("file_id")
    else:
        payload = block.get("text")
    return block["type"], payload if isinstance(payload, str) else None


def _same(block: dict, other: dict) -> bool:
    return _unmarked(block) == _unmarked(other)


def _unmarked(block: dict) -> dict:
    return {key: value for key, value in block.items() if key != "cache_control"}


class DropDuplicates:
    name = "dedupe"

    def apply(self, body: dict, context: Context) -> Outcome:
        saved = changed = 0
        system = system_blocks(body)
        if len(system) > 1:
            kept, tokens = without_duplicates(system)
            if len(kept) < len(system):
                body["system"], saved, changed = kept, saved + tokens, changed + 1

        for message in editable_messages(body):
            content = message["content"]
            if len(content) < 2:
                continue
            kept, tokens = without_duplicates(content)
            if len(kept) < len(content):
                message["content"], saved, changed = kept, saved + tokens, changed + 1

        return Outcome(changed=True, tokens_saved=saved) if changed else NOTHING
