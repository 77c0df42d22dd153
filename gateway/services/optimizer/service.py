"""The optimiser: runs the transforms a request's mode calls for.

The mode comes from ``X-TokensGate-Optimize`` when the client sends it, else
from the client's default in admin:

- ``off``: nothing is changed;
- ``safe``: meaning-preserving transforms only, then cache breakpoints;
- ``aggressive``: ``safe``, plus dropping the middle of long conversations.

Transforms run in a fixed order: rewriting per message first, trimming next,
and breakpoints last, since they are placed on the final prompt. Each reports
the tokens it saved (estimated with tiktoken); the exchange carries the total
and a per-transform breakdown in a response header, and the process keeps
running totals per transform for metrics.
"""

from __future__ import annotations

import logging
from collections import Counter

from gateway.conf import config
from gateway.errors import InvalidRequest
from gateway.services.exchange import Exchange
from gateway.services.optimizer.base import Context, Transform
from gateway.services.optimizer.breakpoints import AutoBreakpoints
from gateway.services.optimizer.dedupe import DropDuplicates
from gateway.services.optimizer.json_minify import JsonMinify
from gateway.services.optimizer.normalize import BlockContent
from gateway.services.optimizer.trim_history import TrimHistory
from gateway.services.optimizer.whitespace import Whitespace

logger = logging.getLogger(__name__)

MODES = ("off", "safe", "aggressive")
DETAIL_HEADER = "X-TokensGate-Optimizations"


def default_transforms() -> list[Transform]:
    return [
        BlockContent(),
        JsonMinify(),
        Whitespace(),
        DropDuplicates(),
        TrimHistory(),
        AutoBreakpoints(),
    ]


class Optimizer:
    def __init__(
        self,
        transforms: list[Transform] | None = None,
        *,
        trim_budget_tokens: int | None = None,
    ) -> None:
        self.transforms = transforms if transforms is not None else default_transforms()
        self.trim_budget_tokens = (
            trim_budget_tokens or config().OPTIMIZE_TRIM_BUDGET_TOKENS
        )
        self.tokens_saved: Counter[str] = Counter()
        self.breakpoints_added = 0

    def mode_for(self, exchange: Exchange) -> str:
        """The request's mode; raises ``InvalidRequest`` for an unknown header."""
        header = exchange.optimize_header
        if header is not None and header.strip():
            mode = header.strip().lower()
            if mode not in MODES:
                raise InvalidRequest(
                    "X-TokensGate-Optimize must be one of off, safe or aggressive.",
                    param="X-TokensGate-Optimize",
                )
            return mode
        mode = exchange.client.optimization_mode
        return mode if mode in MODES else "safe"

    def apply(self, exchange: Exchange) -> None:
        """Optimise the exchange's upstream body in place."""
        mode = self.mode_for(exchange)
        if mode == "off":
            return

        context = Context(
            model=exchange.model, mode=mode, trim_budget_tokens=self.trim_budget_tokens
        )
        saved: dict[str, int] = {}
        changed, breakpoints = False, 0
        for transform in self.transforms:
            outcome = transform.apply(exchange.body, context)
            changed = changed or outcome.changed
            breakpoints += outcome.breakpoints
            if outcome.tokens_saved:
                saved[transform.name] = outcome.tokens_saved

        if changed:
            exchange.mark_body_changed()
        self._record(exchange, mode, saved, breakpoints)

    def _record(
        self, exchange: Exchange, mode: str, saved: dict[str, int], breakpoints: int
    ) -> None:
        exchange.tokens_saved = sum(saved.values())
        self.tokens_saved.update(saved)
        self.breakpoints_added += breakpoints

        detail = [f"mode={mode}", *(f"{name}={n}" for name, n in saved.items())]
        detail.append(f"breakpoints={breakpoints}")
        exchange.response_headers[DETAIL_HEADER] = ",".join(detail)
