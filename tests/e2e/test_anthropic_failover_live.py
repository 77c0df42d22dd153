"""The Anthropic surface while Claude is down: Ollama answers, in Anthropic's shape.

A gateway of its own, because these tests open its Anthropic breaker, which
would send the shared gateway's traffic elsewhere for a whole cooldown.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from tests.live import LiveGateway, StandIn, gateway_env, start_gateway

pytestmark = pytest.mark.live

CACHED_SYSTEM = [
    {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}
]
HELLO = [{"role": "user", "content": "Hello there, fallback."}]


@pytest.fixture(scope="module")
def failover_gateway(
    live_dir: Path, standin: StandIn, ollama_standin: StandIn
) -> Iterator[LiveGateway]:
    env = gateway_env(
        live_dir / "anthropic-failover",
        anthropic_url=standin.url,
        ollama_url=ollama_standin.url,
        MAX_RETRIES="0",
        CB_FAILURE_THRESHOLD="2",
        CB_COOLDOWN_SECONDS="600",
    )
    server = start_gateway(
        live_dir / "anthropic-failover", env, name="anthropic-failover"
    )
    yield server
    server.stop()


@pytest.fixture
def claude_down(upstreams) -> Iterator[tuple[StandIn, StandIn]]:
    upstreams[0].faults({"kind": "status", "status": 529, "count": -1})
    yield upstreams


@pytest.fixture
def client(failover_gateway: LiveGateway, claude_down) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=failover_gateway.url,
        api_key=failover_gateway.key,
        max_retries=0,
        default_headers={"cache-control": "no-cache"},
    )


def test_a_message_is_answered_by_ollama_without_claude_only_fields(
    client, claude_down
):
    raw = client.messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=100, system=CACHED_SYSTEM, messages=HELLO
    )
    message = raw.parse()

    assert raw.headers["x-tokensgate-fallback"] == "true"
    assert raw.headers["x-tokensgate-provider"] == "ollama"
    assert message.content[0].text.startswith("Local stand-in reply to: Hello there")
    sent = claude_down[1].stats()["last_request"]["body"]
    assert "cache_control" not in str(sent)


def test_a_thinking_stream_is_answered_by_ollama(client, claude_down):
    with client.messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=HELLO,
    ) as stream:
        final = stream.get_final_message()

    assert final.content[-1].text.startswith("Local stand-in reply to: Hello there")
    sent = claude_down[1].stats()["last_request"]["body"]
    assert "thinking" not in sent


def test_count_tokens_is_estimated_while_the_breaker_is_open(client, claude_down):
    for _ in range(2):
        client.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=HELLO)

    raw = client.messages.with_raw_response.count_tokens(
        model="claude-haiku-4-5", messages=HELLO
    )

    assert raw.headers["x-tokensgate-cb-anthropic"] == "open"
    assert raw.headers["x-tokensgate-estimated"] == "true"
    assert raw.headers["x-tokensgate-attempts"] == "anthropic:skipped:open"
    assert raw.headers["x-tokensgate-provider"] == "gateway"
    assert raw.parse().input_tokens > 0
    assert "/v1/messages/count_tokens" not in claude_down[0].stats()["requests"]
