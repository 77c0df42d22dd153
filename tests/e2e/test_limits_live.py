"""Limits on a live gateway, seen through the official SDKs."""

from __future__ import annotations

import secrets
import time

import anthropic
import openai
import pytest

from tests.live import LiveGateway

pytestmark = pytest.mark.live

MODEL = "claude-haiku-4-5"
# Every request must reach the upstream: a cached answer costs nothing.
NO_CACHE = {"Cache-Control": "no-cache"}


def new_client(gateway: LiveGateway, *args: str) -> tuple[str, str]:
    name = f"limits-{secrets.token_hex(4)}"
    return name, gateway.create_client(name, *args)


def openai_client(gateway: LiveGateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)


def ask(client: openai.OpenAI, max_tokens: int = 16, **kwargs):
    return client.chat.completions.with_raw_response.create(
        model=MODEL,
        max_tokens=max_tokens,
        messages=[{"role": "user", "content": "Say hello."}],
        extra_headers=NO_CACHE,
        **kwargs,
    )


def set_limits(gateway: LiveGateway, name: str, **fields: str) -> None:
    """Edit a client as admin would; values are Python expressions."""
    assignments = ", ".join(f"{field}={value}" for field, value in fields.items())
    gateway.manage(
        "shell",
        "-c",
        "from decimal import Decimal\n"
        "from gateway.models import ApiClient\n"
        f"ApiClient.objects.filter(name={name!r}).update({assignments})",
    )


def test_requests_over_the_limit_get_an_openai_429_with_headers(
    live_gateway: LiveGateway, upstreams
):
    _, key = new_client(live_gateway, "--rpm", "3")
    client = openai_client(live_gateway, key)

    for remaining in ("2", "1", "0"):
        raw = ask(client)
        assert raw.headers["X-RateLimit-Limit-Requests"] == "3"
        assert raw.headers["X-RateLimit-Remaining-Requests"] == remaining
        assert int(raw.headers["X-RateLimit-Remaining-Tokens"]) > 0
        assert raw.headers["X-TokensGate-Strategy"] == "explicit"
        assert raw.headers["X-TokensGate-Model"].startswith("claude-haiku-4-5")

    with pytest.raises(openai.RateLimitError) as caught:
        ask(client)

    error = caught.value
    assert 55 <= int(error.response.headers["Retry-After"]) <= 60
    assert error.response.headers["X-RateLimit-Limit-Requests"] == "3"
    assert error.response.headers["X-RateLimit-Remaining-Requests"] == "0"
    assert error.response.headers["X-RateLimit-Limit-Tokens"]
    assert error.code == "requests_per_minute_exceeded"
    assert error.body["type"] == "rate_limit_error"
    assert "3 requests per minute" in error.body["message"]
    assert "Retry in" in error.body["message"]


def test_a_refused_stream_is_a_429_before_any_chunk(
    live_gateway: LiveGateway, upstreams
):
    _, key = new_client(live_gateway, "--rpm", "1")
    client = openai_client(live_gateway, key)
    ask(client)

    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model=MODEL,
            max_tokens=16,
            stream=True,
            messages=[{"role": "user", "content": "Say hello."}],
        )
    assert caught.value.response.headers["Retry-After"]


def test_the_anthropic_surface_answers_429_in_its_own_shape(
    live_gateway: LiveGateway, upstreams
):
    _, key = new_client(live_gateway, "--rpm", "1")
    client = anthropic.Anthropic(base_url=live_gateway.url, api_key=key, max_retries=0)
    message = {"role": "user", "content": "Say hello."}
    client.messages.create(model=MODEL, max_tokens=16, messages=[message])

    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model=MODEL, max_tokens=16, messages=[message])

    error = caught.value
    assert error.body["type"] == "error"
    assert error.body["error"]["type"] == "rate_limit_error"
    assert "1 requests per minute" in error.body["error"]["message"]
    assert int(error.response.headers["retry-after"]) >= 55
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"


def test_a_stream_holds_its_reservation_until_it_ends(
    live_gateway: LiveGateway, upstreams
):
    _, key = new_client(live_gateway, "--tpm", "1000")
    client = openai_client(live_gateway, key)
    standin, _ = upstreams
    # The upstream pauses after the first delta, so the stream is still open.
    standin.faults({"kind": "stall", "after_deltas": 1, "seconds": 2})

    stream = client.chat.completions.create(
        model=MODEL,
        max_tokens=900,
        stream=True,
        extra_headers=NO_CACHE,
        messages=[{"role": "user", "content": "Say hello."}],
    )
    with pytest.raises(openai.RateLimitError) as caught:
        ask(client, max_tokens=900)
    assert caught.value.code == "tokens_per_minute_exceeded"
    assert "1,000 tokens per minute" in caught.value.body["message"]

    for _ in stream:
        pass
    # The gateway settles as the stream ends, a moment after the last chunk.
    assert eventually(lambda: ask(client, max_tokens=900))


def test_admin_edits_take_effect_within_the_client_cache_time(
    live_gateway: LiveGateway, upstreams
):
    name, key = new_client(live_gateway, "--rpm", "1")
    client = openai_client(live_gateway, key)
    ask(client)
    with pytest.raises(openai.RateLimitError):
        ask(client)

    set_limits(live_gateway, name, requests_per_minute="50")
    edited = time.monotonic()

    assert eventually(lambda: ask(client), timeout=8)
    # CLIENT_CACHE_SECONDS is 5 by default; allow for the polling interval.
    assert time.monotonic() - edited < 7


def test_a_daily_budget_refuses_once_spent(live_gateway: LiveGateway, upstreams):
    name, key = new_client(live_gateway)
    set_limits(live_gateway, name, daily_budget_usd="Decimal('0.0002')")
    client = openai_client(live_gateway, key)

    spent = 0.0
    with pytest.raises(openai.RateLimitError) as caught:
        for _ in range(20):
            spent += ask(client).parse().model_extra["cost"]["total_cost"]

    assert spent >= 0.0002
    error = caught.value
    assert error.code == "daily_budget_exceeded"
    assert "$0.0002 per UTC day is spent" in error.body["message"]
    assert int(error.response.headers["Retry-After"]) > 1


def eventually(attempt, *, timeout: float = 3.0):
    """Retry ``attempt`` while the gateway answers 429, until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return attempt()
        except openai.RateLimitError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)
