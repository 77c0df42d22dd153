"""The limiter on the request path, over the in-process store and a fake clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gateway.errors import PayloadTooLarge, RateLimited
from gateway.services.clients import ClientProfile
from gateway.services.exchange import Exchange
from gateway.services.limits import Limiter
from gateway.services.pricing import Usage, usage_cost
from gateway.state.backend import MemoryBackend
from gateway.state.limits_store import MemoryLimitStore
from tests.model_fixtures import HAIKU as SHARED_HAIKU

START = datetime(2025, 3, 14, 9, 30, tzinfo=UTC).timestamp()

HAIKU = SHARED_HAIKU

CLIENT = ClientProfile(
    id=7,
    name="app",
    key_prefix="tg-abc",
    requests_per_minute=3,
    tokens_per_minute=10_000,
    daily_budget_usd=None,
    monthly_budget_usd=None,
    max_concurrent_requests=None,
    cache_scope="client:7",
    optimization_mode="safe",
)


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> MemoryLimitStore:
    return MemoryLimitStore(MemoryBackend(clock=clock))


@pytest.fixture
def limiter(store: MemoryLimitStore) -> Limiter:
    return Limiter(store)


def exchange(
    client: ClientProfile = CLIENT,
    *,
    estimated: int = 100,
    max_tokens: int | None = 400,
) -> Exchange:
    body = {"model": HAIKU.model_id, "messages": [{"role": "user", "content": "hi"}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    result = Exchange(
        request_id="req", surface="openai", client=client, body=body, stream=False
    )
    result.estimated_tokens, result.model = estimated, HAIKU
    return result


def finish(done: Exchange, usage: Usage | None) -> None:
    done.usage = usage
    done.cost = usage_cost(HAIKU, usage) if usage is not None else None


async def test_admit_reserves_input_plus_max_tokens_and_reports_headers(limiter):
    admitted = exchange()

    await limiter.admit(admitted)

    assert admitted.reservation.tokens == 500
    worst = usage_cost(HAIKU, Usage(input_tokens=100, output_tokens=400))
    assert admitted.reservation.cost_nanos == worst.total_nanos
    assert admitted.response_headers == {
        "X-RateLimit-Limit-Requests": "3",
        "X-RateLimit-Remaining-Requests": "2",
        "X-RateLimit-Reset-Requests": "60s",
        "X-RateLimit-Limit-Tokens": "10000",
        "X-RateLimit-Remaining-Tokens": "9500",
        "X-RateLimit-Reset-Tokens": "60s",
    }


async def test_without_max_tokens_the_model_default_is_reserved(limiter):
    admitted = exchange(max_tokens=None)
    await limiter.admit(admitted)
    assert admitted.reservation.tokens == 100 + HAIKU.max_output_tokens


async def test_requests_over_the_limit_get_429_naming_the_limit(limiter, clock):
    for _ in range(3):
        await limiter.admit(exchange())
        clock.now += 10

    with pytest.raises(RateLimited) as caught:
        await limiter.admit(exchange())

    error = caught.value
    assert (error.status, error.code) == (429, "requests_per_minute_exceeded")
    assert error.retry_after == 30
    assert "3 requests per minute" in error.message
    assert "Retry in 30 s" in error.message
    assert error.headers["Retry-After"] == "30"
    assert error.headers["X-RateLimit-Remaining-Requests"] == "0"
    assert error.headers["X-RateLimit-Limit-Tokens"] == "10000"


async def test_retry_after_rounds_up_to_the_next_whole_second(limiter, clock):
    for _ in range(3):
        await limiter.admit(exchange())
    clock.now += 0.4

    with pytest.raises(RateLimited) as caught:
        await limiter.admit(exchange())

    assert caught.value.retry_after == 60
    clock.now += 59.6
    await limiter.admit(exchange())


async def test_tokens_over_the_limit_get_429_naming_tokens(limiter):
    await limiter.admit(exchange(estimated=5000, max_tokens=4000))

    with pytest.raises(RateLimited) as caught:
        await limiter.admit(exchange(estimated=500, max_tokens=1000))

    assert caught.value.code == "tokens_per_minute_exceeded"
    assert "10,000 tokens per minute" in caught.value.message
    assert "reserves 1,500" in caught.value.message


async def test_a_prompt_larger_than_the_token_limit_is_never_admitted(limiter):
    with pytest.raises(PayloadTooLarge) as caught:
        await limiter.admit(exchange(estimated=12_000))
    assert caught.value.code == "request_exceeds_tokens_per_minute"


async def test_settle_sets_the_reservation_to_real_usage(limiter, store):
    streamed = exchange(estimated=100, max_tokens=4000)
    await limiter.admit(streamed)
    finish(streamed, Usage(input_tokens=90, cache_read_tokens=10, output_tokens=20))

    await limiter.settle(streamed)

    following = exchange()
    await limiter.admit(following)
    assert following.response_headers["X-RateLimit-Remaining-Tokens"] == str(
        10_000 - 120 - 500
    )
    assert streamed.reservation is None
    assert (await store.spent(CLIENT.id))[0] == streamed.cost.total_nanos


async def test_a_request_that_failed_upstream_releases_its_tokens(limiter):
    failed = exchange(estimated=100, max_tokens=4000)
    await limiter.admit(failed)
    finish(failed, None)

    await limiter.settle(failed)

    following = exchange()
    await limiter.admit(following)
    assert following.response_headers["X-RateLimit-Remaining-Tokens"] == "9500"
    assert following.response_headers["X-RateLimit-Remaining-Requests"] == "1"


async def test_a_cache_hit_uses_no_tokens_and_costs_nothing(limiter, store):
    cached = exchange()
    await limiter.admit(cached)
    finish(cached, Usage(input_tokens=100, output_tokens=50))
    cached.cache_status = "HIT"

    await limiter.settle(cached)

    assert await store.spent(CLIENT.id) == (0, 0)


async def test_settle_without_admission_does_nothing(limiter, store):
    await limiter.settle(exchange())
    assert await store.spent(CLIENT.id) == (0, 0)


async def test_spent_daily_budget_refuses_until_midnight(limiter, clock):
    client = replace(CLIENT, daily_budget_usd=Decimal("0.0010"))
    first = exchange(client)
    await limiter.admit(first)
    finish(first, Usage(input_tokens=500, output_tokens=200))  # $0.0015
    await limiter.settle(first)
    clock.now = datetime(2025, 3, 14, 23, 0, tzinfo=UTC).timestamp()

    with pytest.raises(RateLimited) as caught:
        await limiter.admit(exchange(client))

    error = caught.value
    assert (error.code, error.retry_after) == ("daily_budget_exceeded", 3600)
    assert "budget of $0.0010 per UTC day is spent" in error.message
    assert "(in 3,600 s)" in error.message


async def test_budget_held_by_requests_in_flight_says_so(limiter):
    client = replace(CLIENT, monthly_budget_usd=Decimal("0.001"))
    await limiter.admit(exchange(client, estimated=100, max_tokens=400))  # ~$0.0021

    with pytest.raises(RateLimited) as caught:
        await limiter.admit(exchange(client))

    error = caught.value
    assert (error.code, error.retry_after) == ("monthly_budget_exceeded", 1)
    assert "committed to requests still in progress" in error.message
    assert "$0.0010 per UTC month" in error.message


async def test_concurrency_cap_refuses_until_a_request_settles(limiter):
    client = replace(CLIENT, max_concurrent_requests=1)
    running = exchange(client)
    await limiter.admit(running)

    with pytest.raises(RateLimited) as caught:
        await limiter.admit(exchange(client))
    assert caught.value.code == "concurrent_requests_exceeded"
    assert "1 requests at a time" in caught.value.message

    await limiter.settle(running)
    await limiter.admit(exchange(client))


async def test_zero_limits_mean_unlimited_and_send_no_headers(limiter):
    client = replace(CLIENT, requests_per_minute=0, tokens_per_minute=0)
    for _ in range(50):
        admitted = exchange(client, estimated=50_000)
        await limiter.admit(admitted)
    assert admitted.response_headers == {}
