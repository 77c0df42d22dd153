"""What is counted for each settled request, and the aggregates read from it.

``exchange_increments`` turns one settled exchange into named counter
increments for the counter store; ``metrics_payload`` turns the totals back
into the JSON of ``GET /metrics``. Both sides share the counter names below.

Labelled counters (for Prometheus) are stored as fields whose name joins a
family and its label values with ``|``; label values come from the pricing
table, the gateway's own status codes and cache results, so their number stays
small.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from gateway.services.exchange import Exchange
from gateway.services.pricing import Usage

# Upper bounds of the latency histogram, in milliseconds; a last, unbounded
# bucket catches the rest.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2500,
    5000,
    10000,
    30000,
    60000,
    120000,
)
PERCENTILES = (50, 90, 95, 99)
SEP = "|"

REQUESTS = "requests"
ERRORS = "errors"
RATE_LIMITED = "rate_limited"
CACHE_HITS = "cache_hits"
CACHE_MISSES = "cache_misses"
INPUT_TOKENS = "input_tokens"
OUTPUT_TOKENS = "output_tokens"
CACHE_READ_TOKENS = "cache_read_tokens"
CACHE_WRITE_TOKENS = "cache_write_tokens"
TOKENS_SAVED = "tokens_saved"
COST_NANOS = "cost_nanos"
COST_AVOIDED_NANOS = "cost_avoided_nanos"
LATENCY_US_SUM = "latency_us_sum"
FALLBACKS = "fallbacks"

BUCKET = "bucket"
BY_REQUEST = "req"
BY_TOKENS = "tok"
BY_COST = "cost"
BY_COST_AVOIDED = "avoided"


def bucket_index(latency_ms: float) -> int:
    return bisect.bisect_left(LATENCY_BOUNDS_MS, latency_ms)


# Every settled request names the same few series again; typed, so that 1
# and True, which render differently, are never confused.
@lru_cache(maxsize=4096, typed=True)
def labelled(family: str, *values: object) -> str:
    return SEP.join([family, *(str(v).replace(SEP, "_") or "none" for v in values)])


def exchange_model(exchange: Exchange) -> str:
    if exchange.served_model:
        return exchange.served_model
    return exchange.model.model_id if exchange.model is not None else "none"


def is_error(exchange: Exchange) -> bool:
    return exchange.status >= 400


def is_rate_limited(exchange: Exchange) -> bool:
    """Refused by the gateway's own limits, not by an upstream's 429."""
    return exchange.status == 429 and not exchange.attempts


@dataclass(frozen=True, slots=True)
class Sample:
    """The increments one settled exchange adds to the totals and its minute."""

    totals: dict[str, int]
    per_minute: dict[str, int]
    minute: int


def exchange_sample(exchange: Exchange, *, latency_ms: float) -> Sample:
    totals = _plain_counts(exchange, latency_ms)
    totals.update(_labelled_counts(exchange))
    per_minute = {
        REQUESTS: 1,
        ERRORS: totals[ERRORS],
        LATENCY_US_SUM: totals[LATENCY_US_SUM],
        COST_NANOS: totals.get(COST_NANOS, 0),
    }
    minute = int(exchange.started_wall // 60)
    return Sample(
        totals=_nonzero(totals), per_minute=_nonzero(per_minute), minute=minute
    )


def _plain_counts(exchange: Exchange, latency_ms: float) -> dict[str, int]:
    usage, cost = exchange.usage, exchange.cost
    counts = {
        REQUESTS: 1,
        ERRORS: int(is_error(exchange)),
        RATE_LIMITED: int(is_rate_limited(exchange)),
        CACHE_HITS: int(exchange.cache_status == "HIT"),
        CACHE_MISSES: int(exchange.cache_status == "MISS"),
        FALLBACKS: int(exchange.fallback),
        TOKENS_SAVED: max(exchange.tokens_saved, 0),
        COST_AVOIDED_NANOS: exchange.cost_avoided_nanos,
        LATENCY_US_SUM: round(latency_ms * 1000),
        labelled(BUCKET, bucket_index(latency_ms)): 1,
    }
    if usage is not None:
        counts[INPUT_TOKENS] = usage.input_tokens
        counts[OUTPUT_TOKENS] = usage.output_tokens
        counts[CACHE_READ_TOKENS] = usage.cache_read_tokens
        counts[CACHE_WRITE_TOKENS] = usage.cache_write_tokens
    if cost is not None:
        counts[COST_NANOS] = cost.total_nanos
    return counts


def _labelled_counts(exchange: Exchange) -> dict[str, int]:
    model, provider = exchange_model(exchange), exchange.provider
    cache = exchange.cache_status.lower()
    counts = {
        labelled(
            BY_REQUEST, exchange.surface, provider, model, exchange.status, cache
        ): 1
    }
    if exchange.usage is not None:
        for kind, amount in token_counts(exchange.usage).items():
            if amount:
                counts[labelled(BY_TOKENS, provider, model, kind)] = amount
    if exchange.cost is not None and exchange.cost.total_nanos:
        counts[labelled(BY_COST, provider, model)] = exchange.cost.total_nanos
    # Prometheus counters may only grow, so the labelled series counts savings
    # only; the signed total is in the JSON metrics.
    if exchange.cost_avoided_nanos > 0:
        counts[labelled(BY_COST_AVOIDED, provider, model)] = exchange.cost_avoided_nanos
    return counts


def token_counts(usage: Usage) -> dict[str, int]:
    """Tokens by the ``type`` label Prometheus shows them under."""
    return {
        "input": usage.input_tokens,
        "output": usage.output_tokens,
        "cache_read": usage.cache_read_tokens,
        "cache_write": usage.cache_write_tokens,
    }


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {name: amount for name, amount in counts.items() if amount}


def latency_buckets(totals: Mapping[str, int]) -> list[int]:
    """Requests per histogram bucket (not cumulative), the unbounded one last."""
    return [
        totals.get(labelled(BUCKET, index), 0)
        for index in range(len(LATENCY_BOUNDS_MS) + 1)
    ]


def percentile_ms(buckets: list[int], percentile: float) -> float | None:
    """Estimate a percentile from bucket counts, interpolating within a bucket.

    This is the estimate Prometheus' ``histogram_quantile`` makes; its error is
    bounded by the width of the bucket the percentile falls in.
    """
    count = sum(buckets)
    if count == 0:
        return None

    rank = percentile / 100 * count
    seen = 0
    for index, in_bucket in enumerate(buckets):
        if in_bucket and seen + in_bucket >= rank:
            lower = LATENCY_BOUNDS_MS[index - 1] if index else 0.0
            if index == len(LATENCY_BOUNDS_MS):
                return float(lower)
            upper = LATENCY_BOUNDS_MS[index]
            return lower + (upper - lower) * (rank - seen) / in_bucket
        seen += in_bucket
    return float(LATENCY_BOUNDS_MS[-1])


def usd(nanos: int) -> float:
    return round(nanos / 1_000_000_000, 9)


def metrics_payload(
    totals: Mapping[str, int], *, breakers: dict, cache_enabled: bool, scope: str
) -> dict:
    """The JSON of ``GET /metrics`` from the counter totals."""
    requests = totals.get(REQUESTS, 0)
    hits, misses = totals.get(CACHE_HITS, 0), totals.get(CACHE_MISSES, 0)
    buckets = latency_buckets(totals)
    average = totals.get(LATENCY_US_SUM, 0) / 1000 / requests if requests else 0.0
    return {
        "total_requests": requests,
        "total_errors": totals.get(ERRORS, 0),
        "total_input_tokens": totals.get(INPUT_TOKENS, 0),
        "total_output_tokens": totals.get(OUTPUT_TOKENS, 0),
        "total_cached_tokens": totals.get(CACHE_READ_TOKENS, 0),
        "total_cache_write_tokens": totals.get(CACHE_WRITE_TOKENS, 0),
        "total_cost": usd(totals.get(COST_NANOS, 0)),
        "total_cost_avoided": usd(totals.get(COST_AVOIDED_NANOS, 0)),
        "average_response_time_ms": round(average, 3),
        "latency_percentiles_ms": {
            f"p{p}": _rounded(percentile_ms(buckets, p)) for p in PERCENTILES
        },
        "cache": {
            "hits": hits,
            "misses": misses,
            "hit_rate": round(hits / (hits + misses), 4) if hits + misses else 0.0,
            "enabled": cache_enabled,
        },
        "optimization": {"tokens_saved": totals.get(TOKENS_SAVED, 0)},
        "rate_limited": totals.get(RATE_LIMITED, 0),
        "fallbacks": totals.get(FALLBACKS, 0),
        "circuit_breakers": breakers,
        "counters_scope": scope,
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def labelled_counts(
    totals: Mapping[str, int], family: str
) -> Iterable[tuple[list[str], int]]:
    """The label values and count of every field of one labelled family."""
    prefix = family + SEP
    for name, amount in totals.items():
        if name.startswith(prefix):
            yield name[len(prefix) :].split(SEP), amount
