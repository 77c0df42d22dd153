"""Counting settled exchanges and reading the totals back as /metrics JSON."""

from __future__ import annotations

import pytest

from gateway.services.pricing import Usage
from gateway.state.counter_store import MemoryCounterStore
from monitoring import metrics
from tests.monitoring.factories import settled_exchange

USAGE = Usage(
    input_tokens=1000,
    output_tokens=200,
    cache_read_tokens=3000,
    cache_write_5m_tokens=500,
)


async def totals_of(*exchanges) -> dict[str, int]:
    store = MemoryCounterStore()
    for exchange in exchanges:
        sample = metrics.exchange_sample(exchange, latency_ms=exchange.latency_ms())
        store.add(
            totals=sample.totals, minute=sample.minute, per_minute=sample.per_minute
        )
    return await store.totals()


def payload(totals: dict[str, int]) -> dict:
    return metrics.metrics_payload(
        totals, breakers={}, cache_enabled=True, scope="process"
    )


async def test_payload_sums_requests_tokens_and_cost() -> None:
    ok = settled_exchange(usage=USAGE)
    failed = settled_exchange(status=503, attempts=["anthropic:error:503"])

    result = payload(await totals_of(ok, ok, failed))

    assert result["total_requests"] == 3
    assert result["total_errors"] == 1
    assert result["total_input_tokens"] == 2000
    assert result["total_output_tokens"] == 400
    assert result["total_cached_tokens"] == 6000
    assert result["total_cache_write_tokens"] == 1000
    # 1000 in at $1/M + 200 out at $5/M + 3000 read at $0.1/M + 500 written at $1.25/M
    assert result["total_cost"] == pytest.approx(2 * 0.002925)


async def test_cache_hit_rate_ignores_bypassed_requests() -> None:
    hits = [settled_exchange(cache_status="HIT") for _ in range(3)]
    result = payload(
        await totals_of(
            *hits,
            settled_exchange(cache_status="MISS"),
            settled_exchange(cache_status="BYPASS"),
        )
    )

    assert result["cache"] == {
        "hits": 3,
        "misses": 1,
        "hit_rate": 0.75,
        "enabled": True,
    }


async def test_only_the_gateways_own_429s_count_as_rate_limited() -> None:
    refused = settled_exchange(status=429, attempts=[])
    upstream_429 = settled_exchange(status=429, attempts=["anthropic:error:429"])

    result = payload(await totals_of(refused, upstream_429))

    assert result["rate_limited"] == 1
    assert result["total_errors"] == 2


async def test_savings_are_reported() -> None:
    exchange = settled_exchange(tokens_saved=120, cost_avoided_nanos=1_500_000)

    result = payload(await totals_of(exchange, exchange))

    assert result["optimization"] == {"tokens_saved": 240}
    assert result["total_cost_avoided"] == pytest.approx(0.003)


async def test_average_and_percentiles_follow_latencies() -> None:
    fast = [settled_exchange(latency_ms=40) for _ in range(90)]
    slow = [settled_exchange(latency_ms=900) for _ in range(10)]

    result = payload(await totals_of(*fast, *slow))

    assert result["average_response_time_ms"] == pytest.approx(126, abs=1)
    percentiles = result["latency_percentiles_ms"]
    assert 25 <= percentiles["p50"] <= 50
    assert 500 <= percentiles["p95"] <= 1000


def test_empty_totals_give_zeros_not_errors() -> None:
    result = payload({})

    assert result["total_requests"] == 0
    assert result["average_response_time_ms"] == 0
    assert result["latency_percentiles_ms"]["p50"] is None
    assert result["cache"]["hit_rate"] == 0


@pytest.mark.parametrize("latency, bucket", [(0.5, 0), (5, 0), (5.1, 1), (10**6, 14)])
def test_latency_falls_in_the_bucket_whose_bound_covers_it(latency, bucket) -> None:
    assert metrics.bucket_index(latency) == bucket


def test_percentile_interpolates_inside_its_bucket() -> None:
    buckets = [0] * (len(metrics.LATENCY_BOUNDS_MS) + 1)
    buckets[5] = 100  # (100, 250] ms

    assert metrics.percentile_ms(buckets, 50) == pytest.approx(175)


async def test_sample_never_contains_prompt_text() -> None:
    sample = metrics.exchange_sample(settled_exchange(usage=USAGE), latency_ms=10)

    assert not any("secret" in name for name in sample.totals)
