"""The Prometheus exposition, read back with prometheus_client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from gateway.services.pricing import Usage
from gateway.state.counter_store import MemoryCounterStore
from monitoring import metrics, prometheus
from tests.monitoring.factories import settled_exchange

BREAKERS = {
    "anthropic": {
        "state": "open",
        "failures_in_window": 5,
        "cooldown_remaining_s": 42.5,
        "total_trips": 2,
    },
    "ollama": {
        "state": "closed",
        "failures_in_window": 0,
        "cooldown_remaining_s": 0.0,
        "total_trips": 0,
    },
}


async def exposition(*exchanges, breakers=BREAKERS) -> dict:
    store = MemoryCounterStore()
    for exchange in exchanges:
        sample = metrics.exchange_sample(exchange, latency_ms=exchange.latency_ms())
        store.add(
            totals=sample.totals, minute=sample.minute, per_minute=sample.per_minute
        )
    text = prometheus.render(await store.totals(), breakers=breakers, scope="cluster")
    return {family.name: family for family in text_string_to_metric_families(text)}


def values(family, **labels) -> list[float]:
    return [
        s.value
        for s in family.samples
        if all(s.labels.get(k) == v for k, v in labels.items())
    ]


async def test_requests_are_counted_by_their_labels() -> None:
    families = await exposition(
        settled_exchange(usage=Usage(input_tokens=10, output_tokens=5)),
        settled_exchange(
            status=503, attempts=["anthropic:error:503"], surface="anthropic"
        ),
    )

    requests = families["tokensgate_requests"]
    assert requests.type == "counter"
    assert values(
        requests,
        surface="openai",
        status="200",
        cache="miss",
        model="claude-haiku-4-5-20251001",
        provider="anthropic",
    ) == [1]
    assert values(requests, surface="anthropic", status="503") == [1]


async def test_duration_histogram_is_cumulative_in_seconds() -> None:
    families = await exposition(
        settled_exchange(latency_ms=40),
        settled_exchange(latency_ms=40),
        settled_exchange(latency_ms=3000),
    )

    histogram = families["tokensgate_request_duration_seconds"]
    assert histogram.type == "histogram"
    buckets = {
        s.labels["le"]: s.value for s in histogram.samples if s.name.endswith("_bucket")
    }
    assert buckets["0.025"] == 0
    assert buckets["0.05"] == 2
    assert buckets["5.0"] == 3
    assert buckets["+Inf"] == 3
    total = next(s.value for s in histogram.samples if s.name.endswith("_sum"))
    assert 3.05 < total < 3.2


async def test_tokens_and_cost_carry_model_and_type() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=0, cache_read_tokens=10)
    families = await exposition(
        settled_exchange(usage=usage, cost_avoided_nanos=2_000_000)
    )

    tokens = families["tokensgate_tokens"]
    assert values(tokens, type="input") == [1_000_000]
    assert values(tokens, type="cache_read") == [10]
    assert values(families["tokensgate_cost_usd"], model="claude-haiku-4-5-20251001")[
        0
    ] == (1.000001)
    assert values(families["tokensgate_cost_avoided_usd"]) == [0.002]


async def test_breakers_are_exposed_per_target_and_state() -> None:
    families = await exposition()

    state = families["tokensgate_circuit_breaker_state"]
    assert values(state, target="anthropic", state="open") == [1]
    assert values(state, target="anthropic", state="closed") == [0]
    assert values(state, target="ollama", state="closed") == [1]
    assert values(families["tokensgate_circuit_breaker_trips"], target="anthropic") == [
        2
    ]
    assert values(
        families["tokensgate_circuit_breaker_cooldown_seconds"], target="anthropic"
    ) == [42.5]


async def test_rate_limited_and_scope_are_plain_series() -> None:
    families = await exposition(settled_exchange(status=429, attempts=[]))

    assert values(families["tokensgate_rate_limited"]) == [1]
    assert values(families["tokensgate_counters_cluster_wide"]) == [1]


async def test_label_values_are_escaped() -> None:
    exchange = settled_exchange()
    exchange.served_model = 'odd"model\\name'

    families = await exposition(exchange)

    assert values(families["tokensgate_requests"], model='odd"model\\name') == [1]
