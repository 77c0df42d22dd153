"""The stand-in's bill: what Anthropic would charge for the traffic it served.

Benchmarks compare the gateway's cost accounting and savings against this
ledger, so it prices every kind of token separately (the vendors' API references).
Only responses that completed are billed; a stream cut by a fault is not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gateway.standin.caching import CacheUsage
from gateway.standin.catalog import Prices

PER_MILLION = 1_000_000


@dataclass
class LedgerLine:
    """Totals for one model, or for all of them."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, usage: CacheUsage, output_tokens: int, cost: float) -> None:
        """Add one response's usage and cost."""
        self.requests += 1
        self.input_tokens += usage.input_tokens
        self.output_tokens += output_tokens
        self.cache_write_5m_tokens += usage.cache_write_5m
        self.cache_write_1h_tokens += usage.cache_write_1h
        self.cache_read_tokens += usage.cache_read
        self.cost_usd += cost

    def as_dict(self) -> dict[str, Any]:
        """Render the line, with the cost rounded to a millionth of a cent."""
        line = asdict(self)
        line["cost_usd"] = round(self.cost_usd, 8)
        return line


def usage_cost(prices: Prices, usage: CacheUsage, output_tokens: int) -> float:
    """Price one response's usage in USD."""
    micro_dollars = (
        usage.input_tokens * prices.input
        + output_tokens * prices.output
        + usage.cache_write_5m * prices.cache_write_5m
        + usage.cache_write_1h * prices.cache_write_1h
        + usage.cache_read * prices.cache_read
    )

    return micro_dollars / PER_MILLION


class BillingLedger:
    """Per-model and overall totals of billed usage."""

    def __init__(self) -> None:
        self.total = LedgerLine()
        self.models: dict[str, LedgerLine] = {}

    def record(
        self, *, model: str, prices: Prices, usage: CacheUsage, output_tokens: int
    ) -> None:
        """Bill one completed response under the model id the client sent."""
        cost = usage_cost(prices, usage, output_tokens)
        self.total.add(usage, output_tokens, cost)
        self.models.setdefault(model, LedgerLine()).add(usage, output_tokens, cost)

    def snapshot(self) -> dict[str, Any]:
        """Render the totals and the per-model lines."""
        snapshot = self.total.as_dict()
        snapshot["models"] = {
            model: line.as_dict() for model, line in sorted(self.models.items())
        }

        return snapshot
