"""Cost from the upstream's usage, and the cost a request would have had without the gateway."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from gateway.services.pricing import (
    Cost,
    Usage,
    baseline_cost,
    cost_object,
    settle_cost,
    usage_cost,
)
from tests.services.cache_fakes import HAIKU, SONNET, exchange

# Anthropic's usage for a request that wrote 1,000 tokens for 5 minutes, 2,000
# for an hour, read 10,000 and sent 500 uncached.
CACHED_USAGE = {
    "input_tokens": 500,
    "cache_creation_input_tokens": 3000,
    "cache_creation": {
        "ephemeral_5m_input_tokens": 1000,
        "ephemeral_1h_input_tokens": 2000,
    },
    "cache_read_input_tokens": 10_000,
    "output_tokens": 200,
}


def nanos(tokens: int, price_per_million: str) -> int:
    return int(Decimal(tokens) * Decimal(price_per_million) * 1000)


def test_usage_reads_the_uncached_part_and_each_cache_kind_separately():
    usage = Usage.from_anthropic(CACHED_USAGE)

    assert usage.input_tokens == 500
    assert (usage.cache_write_5m_tokens, usage.cache_write_1h_tokens) == (1000, 2000)
    assert usage.cache_read_tokens == 10_000
    assert usage.prompt_tokens == 13_500


def test_writes_without_a_split_count_as_five_minute_writes():
    usage = Usage.from_anthropic(
        {"input_tokens": 1, "cache_creation_input_tokens": 700}
    )
    assert (usage.cache_write_5m_tokens, usage.cache_write_1h_tokens) == (700, 0)


def test_each_kind_of_token_is_billed_once_at_its_own_price():
    cost = usage_cost(SONNET, Usage.from_anthropic(CACHED_USAGE))

    assert cost.input_nanos == nanos(500, "3")
    assert cost.cache_write_nanos == nanos(1000, "3.75") + nanos(2000, "6")
    assert cost.cache_read_nanos == nanos(10_000, "0.30")
    assert cost.output_nanos == nanos(200, "15")
    # Cache writes are not billed again as input: input_tokens is the uncached part.
    assert cost.total_nanos == nanos(500, "3") + nanos(1000, "3.75") + nanos(
        2000, "6"
    ) + nanos(10_000, "0.30") + nanos(200, "15")


def test_prices_come_from_the_model_so_admin_edits_apply():
    cheaper = replace(SONNET, input_price=Decimal("1.5"))
    usage = Usage(input_tokens=1_000_000)

    assert usage_cost(cheaper, usage).total_nanos == 1_500_000_000
    assert usage_cost(HAIKU, usage).total_nanos == 1_000_000_000


def test_the_baseline_prices_every_input_token_uncached_plus_what_was_optimised_away():
    usage = Usage.from_anthropic(CACHED_USAGE)
    baseline = baseline_cost(SONNET, usage, tokens_saved=1500)

    assert baseline.input_nanos == nanos(13_500 + 1500, "3")
    assert baseline.output_nanos == nanos(200, "15")
    assert baseline.cache_write_nanos == baseline.cache_read_nanos == 0


def test_settling_a_fresh_answer_records_the_bill_and_the_cost_avoided():
    ex = exchange()
    ex.usage, ex.tokens_saved = Usage.from_anthropic(CACHED_USAGE), 1500
    settle_cost(ex)

    bill = usage_cost(SONNET, Usage.from_anthropic(CACHED_USAGE))
    baseline = baseline_cost(SONNET, ex.usage, tokens_saved=1500)
    assert ex.cost == bill
    assert ex.cost_avoided_nanos == baseline.total_nanos - bill.total_nanos > 0


def test_a_first_cache_write_can_cost_more_than_no_caching_and_says_so():
    ex = exchange()
    ex.usage = Usage.from_anthropic(
        {"input_tokens": 10, "cache_creation_input_tokens": 5000, "output_tokens": 10}
    )
    settle_cost(ex)

    assert ex.cost_avoided_nanos == -nanos(5000, "0.75")


def test_a_cache_hit_is_billed_nothing_and_avoids_its_whole_baseline():
    ex = exchange()
    ex.cache_status = "HIT"
    ex.usage, ex.tokens_saved = Usage.from_anthropic(CACHED_USAGE), 100
    settle_cost(ex)

    assert ex.cost == Cost() and ex.usage == Usage()
    assert ex.cost_avoided_nanos == nanos(13_600, "3") + nanos(200, "15")


def test_a_fallback_answer_costs_nothing_and_avoids_nothing():
    ex = exchange()
    ex.fallback, ex.usage = True, Usage(input_tokens=100, output_tokens=10)
    settle_cost(ex)

    assert ex.cost == Cost() and ex.cost_avoided_nanos == 0


def test_an_exchange_without_usage_is_left_unpriced():
    ex = exchange()
    settle_cost(ex)
    assert ex.cost is None and ex.cost_avoided_nanos == 0


def test_the_cost_object_includes_cache_reads_and_writes_in_the_input_cost():
    usage = Usage.from_anthropic(CACHED_USAGE)
    rendered = cost_object(usage, usage_cost(SONNET, usage))

    assert rendered["input_tokens"] == 13_500
    assert (
        rendered["cache_read_tokens"] == 10_000
        and rendered["cache_write_tokens"] == 3000
    )
    expected_input = (
        nanos(500, "3") + nanos(1000, "3.75") + nanos(2000, "6") + nanos(10_000, "0.30")
    )
    assert rendered["input_cost"] == round(expected_input / 1e9, 9)
    assert rendered["total_cost"] == round((expected_input + nanos(200, "15")) / 1e9, 9)
