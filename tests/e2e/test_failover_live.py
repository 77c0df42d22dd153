"""Staying up, end to end: a gateway process, the stand-ins, the official OpenAI SDK.

The gateway runs with a low breaker threshold, a short window and a short
cooldown, so an outage trips it on the first request and canaries come every
two seconds. Each test starts from a closed breaker with no failures in its
window (see ``closed_breakers``).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.live import LiveGateway, StandIn, gateway_env, start_gateway

pytestmark = pytest.mark.live

COOLDOWN = 2.0
WINDOW = 3.0
IDLE_TIMEOUT = 1.0
# The figure is a 30-second outage; CI runs a shorter one by default.
OUTAGE_SECONDS = float(os.environ.get("TG_OUTAGE_SECONDS", "5"))
PROMPT = [{"role": "user", "content": "Name three prime numbers."}]

OUTAGES = {
    "503": {"kind": "status", "status": 503, "count": -1},
    "529": {"kind": "status", "status": 529, "count": -1},
    "timeout": {"kind": "latency", "seconds": 3, "count": -1},
    "reset": {"kind": "drop", "count": -1},
}


@pytest.fixture(scope="module")
def gateway(live_dir: Path, standin: StandIn, ollama_standin: StandIn):
    env = gateway_env(
        live_dir / "failover",
        anthropic_url=standin.url,
        ollama_url=ollama_standin.url,
        CB_FAILURE_THRESHOLD="2",
        CB_WINDOW_SECONDS=str(WINDOW),
        CB_COOLDOWN_SECONDS=str(COOLDOWN),
        MAX_RETRIES="1",
        STREAM_IDLE_TIMEOUT=str(IDLE_TIMEOUT),
        UPSTREAM_READ_TIMEOUT="1",
        # The same prompt again and again must reach the upstream, not the cache.
        CACHE_ENABLED="false",
    )
    server = start_gateway(live_dir / "failover", env, name="failover")
    yield server
    server.stop()


@pytest.fixture
def client(gateway: LiveGateway) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=gateway.url + "/v1", api_key=gateway.key, max_retries=0
    )


@pytest.fixture(autouse=True)
def closed_breakers(gateway, client, upstreams):
    """Start each test with healthy upstreams and a closed, clean Anthropic breaker."""
    deadline = time.monotonic() + COOLDOWN + WINDOW + 5
    while (state := breaker(gateway))["state"] != "closed" or state[
        "failures_in_window"
    ]:
        assert time.monotonic() < deadline, "the breaker did not close"
        if state["state"] == "half_open":
            ask(client)
        time.sleep(0.05)
    upstreams[0].reset()
    upstreams[1].reset()


def breaker(gateway: LiveGateway, target: str = "anthropic") -> dict:
    health = httpx.get(gateway.url + "/health", timeout=5).json()
    return health["circuit_breakers"][target]


def ask(client: openai.OpenAI, *, stream: bool = False) -> tuple[httpx.Headers, str]:
    """One chat completion; returns the response headers and the text."""
    raw = client.chat.completions.with_raw_response.create(
        model="claude-haiku-4-5", messages=PROMPT, max_tokens=100, stream=stream
    )
    if not stream:
        return raw.headers, raw.parse().choices[0].message.content or ""
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return raw.headers, text


@pytest.mark.parametrize("outage", OUTAGES, ids=list(OUTAGES))
def test_a_claude_outage_fails_no_client_request_while_ollama_is_up(
    gateway, client, upstreams, outage
):
    anthropic = upstreams[0]
    anthropic.faults(OUTAGES[outage])
    failures, providers, requests = 0, set(), 0

    until = time.monotonic() + OUTAGE_SECONDS
    while time.monotonic() < until:
        try:
            headers, text = ask(client, stream=requests % 2 == 1)
            providers.add(headers["x-tokensgate-provider"])
            assert text
        except openai.APIError:
            failures += 1
        requests += 1
        time.sleep(0.02)

    assert failures == 0
    assert providers == {"ollama"}
    # Two failed attempts trip the breaker; after that only canaries go, at
    # most one per cooldown.
    canaries = anthropic.stats()["anthropic_requests"] - 2
    assert canaries <= math.ceil(OUTAGE_SECONDS / COOLDOWN)
    assert requests > 10 + canaries
    assert breaker(gateway)["total_trips"] >= 1


@pytest.mark.parametrize("outage", ["503", "reset"])
def test_traffic_returns_to_claude_within_the_cooldown_after_recovery(
    gateway, client, upstreams, outage
):
    anthropic = upstreams[0]
    anthropic.faults(OUTAGES[outage])
    ask(client)
    assert breaker(gateway)["state"] == "open"

    anthropic.reset()
    recovered_at = time.monotonic()
    while True:
        headers, _ = ask(client)
        if headers["x-tokensgate-provider"] == "anthropic":
            break
        time.sleep(0.05)

    assert time.monotonic() - recovered_at <= COOLDOWN + 1.0
    assert headers["x-tokensgate-cb-anthropic"] == "closed"


def test_failover_headers_report_attempts_and_breaker_states(client, upstreams):
    upstreams[0].faults(OUTAGES["503"])

    first = client.chat.completions.with_raw_response.create(
        model="claude-haiku-4-5", messages=PROMPT, max_tokens=50
    )
    second, _ = ask(client, stream=True)

    headers = first.headers
    assert headers["x-tokensgate-provider"] == "ollama"
    assert headers["x-tokensgate-fallback"] == "true"
    assert headers["x-tokensgate-attempts"] == (
        "anthropic:error:503,anthropic:error:503,ollama:ok"
    )
    assert headers["x-tokensgate-cb-anthropic"] == "open"
    assert headers["x-tokensgate-cb-ollama"] == "closed"
    assert headers["x-tokensgate-model"] == "llama3.2:1b"
    assert first.parse().model_extra["cost"]["total_cost"] == 0
    assert second["x-tokensgate-attempts"] == "anthropic:skipped:open,ollama:ok"


def test_health_reports_each_breaker_with_its_telemetry(gateway, client, upstreams):
    upstreams[0].faults(OUTAGES["529"])
    ask(client)

    health = httpx.get(gateway.url + "/health").json()

    assert health["ollama"] == "ok"
    anthropic = health["circuit_breakers"]["anthropic"]
    assert anthropic["state"] == "open"
    assert 0 < anthropic["cooldown_remaining_s"] <= COOLDOWN
    assert anthropic["total_trips"] >= 1
    assert set(health["circuit_breakers"]["ollama"]) == {
        "state",
        "failures_in_window",
        "cooldown_remaining_s",
        "total_trips",
    }


def test_an_error_mid_stream_ends_with_an_error_chunk_and_is_not_retried(
    gateway, client, upstreams
):
    anthropic, ollama = upstreams
    anthropic.faults({"kind": "error_event", "after_deltas": 2, "count": 1})
    received = []

    stream = client.chat.completions.create(
        model="claude-haiku-4-5", messages=PROMPT, max_tokens=100, stream=True
    )
    with pytest.raises(openai.APIError):
        received.extend(stream)

    assert any(c.choices and c.choices[0].delta.content for c in received)
    assert anthropic.stats()["anthropic_requests"] == 1
    assert ollama.stats()["ollama_requests"] == 0
    assert breaker(gateway)["failures_in_window"] == 1


def test_a_connection_dropped_before_the_headers_falls_back_to_a_clean_stream(
    client, upstreams
):
    upstreams[0].faults({"kind": "drop", "after_deltas": 0, "count": 2})

    headers, text = ask(client, stream=True)

    assert text
    assert headers["x-tokensgate-attempts"] == (
        "anthropic:error:503,anthropic:error:503,ollama:ok"
    )


def test_a_stalled_stream_ends_with_an_error_within_the_idle_timeout(client, upstreams):
    anthropic, ollama = upstreams
    anthropic.faults({"kind": "stall", "after_deltas": 2, "seconds": 10, "count": 1})
    last_chunk_at = time.monotonic()

    stream = client.chat.completions.create(
        model="claude-haiku-4-5", messages=PROMPT, max_tokens=100, stream=True
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            last_chunk_at = time.monotonic()
    waited = time.monotonic() - last_chunk_at

    assert waited <= IDLE_TIMEOUT + 1.0
    assert anthropic.stats()["anthropic_requests"] == 1
    assert ollama.stats()["ollama_requests"] == 0


def test_a_client_that_disconnects_cancels_the_upstream_stream(gateway, upstreams):
    anthropic = upstreams[0]
    anthropic.control(
        "POST", "/_control/config", {"chunk_delay_ms": 100, "reply_tokens": 2000}
    )
    body = {"model": "claude-haiku-4-5", "messages": PROMPT, "stream": True}

    headers = {"Authorization": f"Bearer {gateway.key}"}
    with (
        httpx.Client(base_url=gateway.url, timeout=10) as http,
        http.stream(
            "POST", "/v1/chat/completions", json=body, headers=headers
        ) as response,
    ):
        assert response.status_code == 200
        assert next(response.iter_lines()).startswith("data:")

    deadline = time.monotonic() + 3
    while anthropic.stats()["streams"]["abandoned"] < 1:
        assert time.monotonic() < deadline, "the upstream stream was never let go"
        time.sleep(0.05)
    assert anthropic.stats()["streams"]["completed"] == 0
    assert breaker(gateway)["failures_in_window"] == 0
