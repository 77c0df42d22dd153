"""Simulated prompt caching and the billing ledger."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from gateway.standin import StandinServer
from gateway.standin.caching import PromptCache
from gateway.standin.segments import layout_prompt

SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"
LONG_TEXT = "You answer questions about rivers. " + "river " * 1500
EPHEMERAL = {"type": "ephemeral"}


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinServer]:
    with StandinServer() as server:
        yield server


@pytest.fixture
def client(standin: StandinServer) -> anthropic.Anthropic:
    httpx.post(f"{standin.url}/_control/reset")
    return anthropic.Anthropic(base_url=standin.url, api_key="k", max_retries=0)


def cached_system(
    text: str = LONG_TEXT, ttl: str | None = None
) -> list[dict[str, Any]]:
    marker = {**EPHEMERAL, "ttl": ttl} if ttl else EPHEMERAL
    return [{"type": "text", "text": text, "cache_control": marker}]


def ask(client: anthropic.Anthropic, **kwargs: Any) -> anthropic.types.Message:
    kwargs.setdefault("model", SONNET)
    kwargs.setdefault("messages", [{"role": "user", "content": "Which river?"}])
    return client.messages.create(max_tokens=50, **kwargs)


def test_second_identical_request_reads_the_cache(client: anthropic.Anthropic) -> None:
    first = ask(client, system=cached_system())
    second = ask(client, system=cached_system())

    assert first.usage.cache_creation_input_tokens > 1500
    assert first.usage.cache_read_input_tokens == 0
    assert first.usage.cache_creation.ephemeral_5m_input_tokens == (
        first.usage.cache_creation_input_tokens
    )
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.cache_read_input_tokens == (
        first.usage.cache_creation_input_tokens
    )
    assert second.usage.input_tokens == first.usage.input_tokens


def test_prefix_below_the_model_minimum_is_not_cached(
    client: anthropic.Anthropic,
) -> None:
    # About 1,500 tokens: enough for Sonnet's 1,024, short of Haiku 4.5's 4,096.
    first = ask(client, model=HAIKU, system=cached_system())
    second = ask(client, model=HAIKU, system=cached_system())

    for message in (first, second):
        assert message.usage.cache_creation_input_tokens == 0
        assert message.usage.cache_read_input_tokens == 0


def test_short_prompt_is_not_cached(client: anthropic.Anthropic) -> None:
    ask(client, system=cached_system("Be brief."))
    second = ask(client, system=cached_system("Be brief."))

    assert second.usage.cache_read_input_tokens == 0
    assert second.usage.cache_creation_input_tokens == 0


def test_cache_is_kept_per_key_and_model(standin: StandinServer) -> None:
    httpx.post(f"{standin.url}/_control/reset")
    clients = [
        anthropic.Anthropic(base_url=standin.url, api_key=key, max_retries=0)
        for key in ("key-a", "key-b")
    ]

    ask(clients[0], system=cached_system())
    other_key = ask(clients[1], system=cached_system())
    other_model = ask(
        clients[0], model="claude-sonnet-4-20250514", system=cached_system()
    )

    assert other_key.usage.cache_read_input_tokens == 0
    assert other_model.usage.cache_read_input_tokens == 0


def test_one_hour_ttl_is_billed_as_such(client: anthropic.Anthropic) -> None:
    message = ask(client, system=cached_system(ttl="1h"))

    assert message.usage.cache_creation.ephemeral_1h_input_tokens > 1500
    assert message.usage.cache_creation.ephemeral_5m_input_tokens == 0


def test_conversation_reads_the_previous_turn(client: anthropic.Anthropic) -> None:
    history = [{"role": "user", "content": [block_with_marker(LONG_TEXT)]}]
    first = ask(client, messages=history)

    reply = {"role": "assistant", "content": "Noted."}
    follow_up = {"role": "user", "content": [block_with_marker("And the Nile?")]}
    plain_history = [{"role": "user", "content": [{"type": "text", "text": LONG_TEXT}]}]
    second = ask(client, messages=[*plain_history, reply, follow_up])

    assert second.usage.cache_read_input_tokens == (
        first.usage.cache_creation_input_tokens
    )
    assert 0 < second.usage.cache_creation_input_tokens < 20


def test_changed_prefix_misses_the_cache(client: anthropic.Anthropic) -> None:
    ask(client, system=cached_system())
    changed = ask(client, system=cached_system(LONG_TEXT + " Also lakes."))

    assert changed.usage.cache_read_input_tokens == 0
    assert changed.usage.cache_creation_input_tokens > 1500


def test_ledger_prices_cache_writes_and_reads(
    standin: StandinServer, client: anthropic.Anthropic
) -> None:
    first = ask(client, system=cached_system())
    second = ask(client, system=cached_system())

    billing = httpx.get(f"{standin.url}/_control/stats").json()["billing"]

    line = billing["models"][SONNET]
    written = first.usage.cache_creation_input_tokens
    uncached = first.usage.input_tokens + second.usage.input_tokens
    output = first.usage.output_tokens + second.usage.output_tokens
    expected = (uncached * 3 + output * 15 + written * 3.75 + written * 0.30) / 1e6
    assert line["requests"] == 2
    assert line["cache_write_5m_tokens"] == written
    assert line["cache_read_tokens"] == second.usage.cache_read_input_tokens
    assert line["cost_usd"] == pytest.approx(expected, rel=1e-6)
    assert billing["cost_usd"] == pytest.approx(expected, rel=1e-6)


def test_entries_expire_after_five_minutes_unless_read() -> None:
    now = [0.0]
    cache = PromptCache(clock=lambda: now[0])
    layout = layout_prompt(
        {"system": cached_system(), "messages": [{"role": "user", "content": "hi"}]}
    )

    def read() -> int:
        return cache.account(
            scope=("k", SONNET), layout=layout, min_tokens=1024
        ).cache_read

    assert read() == 0
    now[0] = 299.0
    assert read() > 0
    now[0] = 299.0 + 299.0
    assert read() > 0, "a hit refreshes the five minutes"
    now[0] += 301.0
    assert read() == 0


def block_with_marker(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text, "cache_control": EPHEMERAL}
