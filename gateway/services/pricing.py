"""Usage and cost, from the upstream's own ``usage`` and the pricing table.

Costs are kept as integer nano-dollars so that sums over millions of requests,
in process or in Redis, are exact; they become floats only when rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from gateway.services.catalog import ModelInfo

if TYPE_CHECKING:
    from gateway.services.exchange import Exchange

NANOS_PER_USD = 1_000_000_000
_NANOS_PER_TOKEN_PER_PRICE = Decimal(NANOS_PER_USD) / Decimal(1_000_000)
_ONE = Decimal(1)


def _int(value: object) -> int:
    return value if isinstance(value, int) and value > 0 else 0


@dataclass(frozen=True, slots=True)
class Usage:
    """Anthropic's usage: ``input_tokens`` is the uncached part only."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0

    @classmethod
    def from_anthropic(cls, usage: dict | None) -> Usage:
        usage = usage or {}
        written = _int(usage.get("cache_creation_input_tokens"))
        split = usage.get("cache_creation") or {}
        write_1h = _int(split.get("ephemeral_1h_input_tokens"))
        return cls(
            input_tokens=_int(usage.get("input_tokens")),
            output_tokens=_int(usage.get("output_tokens")),
            cache_write_5m_tokens=max(written - write_1h, 0),
            cache_write_1h_tokens=write_1h,
            cache_read_tokens=_int(usage.get("cache_read_input_tokens")),
        )

    @property
    def cache_write_tokens(self) -> int:
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens

    @property
    def prompt_tokens(self) -> int:
        """All input tokens, cached or not, as OpenAI's ``prompt_tokens`` counts."""
        return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens


def _nanos(tokens: int, price_per_million: Decimal) -> int:
    # Most usage fields are zero on most requests (no cache reads or writes),
    # and zero tokens cost nothing at any price; the Decimal arithmetic below
    # costs about a microsecond a call on the request path.
    if not tokens:
        return 0
    exact = Decimal(tokens) * price_per_million * _NANOS_PER_TOKEN_PER_PRICE
    return int(exact.quantize(_ONE, rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class Cost:
    input_nanos: int = 0
    output_nanos: int = 0
    cache_write_nanos: int = 0
    cache_read_nanos: int = 0

    @property
    def total_nanos(self) -> int:
        return (
            self.input_nanos
            + self.output_nanos
            + self.cache_write_nanos
            + self.cache_read_nanos
        )


def usage_cost(model: ModelInfo, usage: Usage) -> Cost:
    return Cost(
        input_nanos=_nanos(usage.input_tokens, model.input_price),
        output_nanos=_nanos(usage.output_tokens, model.output_price),
        cache_write_nanos=_nanos(
            usage.cache_write_5m_tokens, model.cache_write_5m_price
        )
        + _nanos(usage.cache_write_1h_tokens, model.cache_write_1h_price),
        cache_read_nanos=_nanos(usage.cache_read_tokens, model.cache_read_price),
    )


def baseline_cost(model: ModelInfo, usage: Usage, *, tokens_saved: int = 0) -> Cost:
    """What the request would have cost without the gateway.

    No response cache, no optimisation and no prompt caching: every input
    token the upstream saw, plus the tokens the optimiser removed, at the
    base input price, and the same output.
    """
    input_tokens = usage.prompt_tokens + max(tokens_saved, 0)
    return Cost(
        input_nanos=_nanos(input_tokens, model.input_price),
        output_nanos=_nanos(usage.output_tokens, model.output_price),
    )


def settle_cost(exchange: Exchange) -> None:
    """Price what the exchange is billed and the cost it avoided.

    A response-cache hit is billed nothing and avoids its whole baseline; its
    usage is reset so counters and limits see no upstream tokens. Otherwise
    the avoided cost is the baseline minus the bill, which is negative when
    a prompt-cache write costs more than the uncached input would have (the
    next request's cheap read is where that pays off). A fallback answer from
    the local model costs nothing and, having had no Claude counterpart,
    avoids nothing.
    """
    model, usage = exchange.model, exchange.usage
    if model is None or usage is None:
        return
    if exchange.fallback:
        exchange.cost, exchange.cost_avoided_nanos = Cost(), 0
        return

    baseline = baseline_cost(model, usage, tokens_saved=exchange.tokens_saved)
    if exchange.cache_status == "HIT":
        exchange.usage, exchange.cost = Usage(), Cost()
    else:
        exchange.cost = usage_cost(model, usage)
    exchange.cost_avoided_nanos = baseline.total_nanos - exchange.cost.total_nanos


def usd(nanos: int) -> float:
    return round(nanos / NANOS_PER_USD, 9)


def cost_object(usage: Usage, cost: Cost) -> dict:
    """The ``cost`` object of the OpenAI response, in USD.

    ``input_cost`` includes cache reads and writes, each at its own price; they
    are also given separately so a client can see what caching did.
    """
    input_nanos = cost.input_nanos + cost.cache_write_nanos + cost.cache_read_nanos
    return {
        "input_tokens": usage.prompt_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "input_cost": usd(input_nanos),
        "output_cost": usd(cost.output_nanos),
        "cache_read_cost": usd(cost.cache_read_nanos),
        "cache_write_cost": usd(cost.cache_write_nanos),
        "total_cost": usd(cost.total_nanos),
        "currency": "USD",
    }
