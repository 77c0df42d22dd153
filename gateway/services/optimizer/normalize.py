"""Write string content as a single text block.

``"content": "hi"`` and ``"content": [{"type": "text", "text": "hi"}]`` ask
the model the same thing, but only a block can carry a ``cache_control``
breakpoint. Rewriting every string, not just the one that gets a breakpoint,
keeps each message's bytes the same whether or not it is the newest one, so
the conversation's cached prefix stays valid from one request to the next.
Saves no tokens.
"""

from __future__ import annotations

from gateway.services.optimizer.base import NOTHING, Context, Outcome


class BlockContent:
    name = "normalize"

    def apply(self, body: dict, context: Context) -> Outcome:
        changed = False
        system = body.get("system")
        if isinstance(system, str) and system:
            body["system"] = [{"type": "text", "text": system}]
            changed = True

        for message in body.get("messages") or ():
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str) and content:
                message["content"] = [{"type": "text", "text": content}]
                changed = True

        return Outcome(changed=True) if changed else NOTHING
