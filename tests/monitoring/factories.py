"""Settled exchanges for monitoring tests, built without a pipeline."""

from __future__ import annotations

import time

from gateway.services.clients import ClientProfile
from gateway.services.exchange import Exchange
from gateway.services.pricing import Usage, usage_cost
from tests.model_fixtures import HAIKU as SHARED_HAIKU
from tests.model_fixtures import replace

HAIKU = replace(SHARED_HAIKU, max_output_tokens=64000)


def client_profile(client_id: int = 1, name: str = "billing-app") -> ClientProfile:
    return ClientProfile(
        id=client_id,
        name=name,
        key_prefix="tg_abcd",
        requests_per_minute=100,
        tokens_per_minute=100000,
        daily_budget_usd=None,
        monthly_budget_usd=None,
        max_concurrent_requests=None,
        cache_scope=f"client:{client_id}",
        optimization_mode="safe",
    )


def settled_exchange(
    *,
    status: int = 200,
    latency_ms: float = 120.0,
    usage: Usage | None = None,
    cache_status: str = "MISS",
    attempts: list[str] | None = None,
    client: ClientProfile | None = None,
    request_id: str = "req_test",
    surface: str = "openai",
    tokens_saved: int = 0,
    cost_avoided_nanos: int = 0,
    fallback: bool = False,
    provider: str = "anthropic",
) -> Exchange:
    exchange = Exchange(
        request_id=request_id,
        surface=surface,
        client=client or client_profile(),
        body={
            "model": HAIKU.model_id,
            "messages": [{"role": "user", "content": "secret"}],
        },
        stream=False,
    )
    exchange.started = time.monotonic() - latency_ms / 1000
    # A fixed latency, however long the test takes to get to it.
    exchange.latency_ms = lambda: latency_ms
    exchange.model = HAIKU
    exchange.status = status
    exchange.cache_status = cache_status
    exchange.attempts = ["anthropic:ok"] if attempts is None else attempts
    exchange.provider, exchange.fallback = provider, fallback
    exchange.tokens_saved, exchange.cost_avoided_nanos = (
        tokens_saved,
        cost_avoided_nanos,
    )
    if usage is not None:
        exchange.usage = usage
        exchange.served_model = HAIKU.model_id
        exchange.cost = usage_cost(HAIKU, usage)
    if status >= 400:
        exchange.error_type = "overloaded_error"
    exchange.settled = True
    return exchange
