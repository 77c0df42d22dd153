"""Response headers that report what the gateway did with a request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpResponseBase

from gateway.services.exchange import Exchange

BreakerStates = Callable[[], dict[str, str]]


def exchange_headers(exchange: Exchange, breaker_states: dict[str, str]) -> dict:
    headers = {
        "X-Cache": exchange.cache_status,
        "X-TokensGate-Strategy": exchange.strategy,
        "X-TokensGate-Provider": exchange.provider,
        "X-TokensGate-Fallback": "true" if exchange.fallback else "false",
        "X-TokensGate-Tokens-Saved": str(exchange.tokens_saved),
    }
    model = exchange.served_model or (
        exchange.model.model_id if exchange.model else None
    )
    if model:
        headers["X-TokensGate-Model"] = model
    if exchange.attempts:
        headers["X-TokensGate-Attempts"] = ",".join(exchange.attempts)
    for target, state in breaker_states.items():
        headers[f"X-TokensGate-CB-{target.capitalize()}"] = state
    headers.update(exchange.response_headers)
    return headers


def apply_headers(response: HttpResponseBase, headers: dict[str, str]) -> None:
    for name, value in headers.items():
        response[name] = value
