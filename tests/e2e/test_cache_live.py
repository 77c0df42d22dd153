"""The response cache through the official OpenAI SDK, a live gateway and the stand-in.

Every test asks a question no other test asks (a fresh token in the prompt),
so entries left by earlier tests never answer it.
"""

from __future__ import annotations

import json
import secrets
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from tests.live import LiveGateway, gateway_env, start_gateway

pytestmark = pytest.mark.live

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def sdk(gateway: LiveGateway, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=gateway.url + "/v1", api_key=key or gateway.key, max_retries=0
    )


@pytest.fixture
def client(live_gateway: LiveGateway, upstreams) -> openai.OpenAI:
    return sdk(live_gateway)


def question(**extra) -> dict:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 64,
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {
                "role": "user",
                "content": f"Question {secrets.token_hex(6)}: what is a cache?",
            },
        ],
        **extra,
    }


def ask(client: openai.OpenAI, request: dict, **headers: str):
    raw = client.chat.completions.with_raw_response.create(
        **request, extra_headers=headers or None
    )
    return raw.headers, raw.parse()


def ask_streaming(client: openai.OpenAI, request: dict, **headers: str):
    """The X-Cache header, the text and the tool calls of a streamed answer."""
    raw = client.chat.completions.with_raw_response.create(
        **request,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=headers or None,
    )
    text, calls = "", {}
    for chunk in raw.parse():
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or ():
                entry = calls.setdefault(
                    call.index, {"id": "", "name": "", "arguments": ""}
                )
                entry["id"] += call.id or ""
                entry["name"] += call.function.name or ""
                entry["arguments"] += call.function.arguments or ""
    return raw.headers["x-cache"], text, [calls[i] for i in sorted(calls)]


def tool_calls_of(completion) -> list[dict]:
    return [
        {
            "id": call.id,
            "name": call.function.name,
            "arguments": call.function.arguments,
        }
        for call in completion.choices[0].message.tool_calls or ()
    ]


def cache_writes(completion) -> int:
    """``cache_write_tokens``: a typed field in newer SDKs, an extra in older ones."""
    details = completion.usage.prompt_tokens_details
    written = getattr(details, "cache_write_tokens", None)
    return written if written is not None else details.model_extra["cache_write_tokens"]


def upstream_calls(standin) -> int:
    return standin.stats()["anthropic_requests"]


def test_a_repeated_question_is_a_miss_then_a_free_hit(client, upstreams):
    request = question()
    first_headers, first = ask(client, request)
    second_headers, second = ask(client, request)

    assert (first_headers["x-cache"], second_headers["x-cache"]) == ("MISS", "HIT")
    assert second.choices[0].message.content == first.choices[0].message.content
    assert upstream_calls(upstreams[0]) == 1
    assert second.model_extra["cost"]["total_cost"] == 0
    assert first.model_extra["cost"]["total_cost"] > 0


def test_a_cached_answer_is_replayed_as_a_stream_with_the_same_text_and_tool_calls(
    client, upstreams
):
    request = question(tools=[WEATHER_TOOL])
    headers, answer = ask(client, request)
    cache, text, calls = ask_streaming(client, request)

    assert headers["x-cache"] == "MISS" and cache == "HIT"
    assert text == (answer.choices[0].message.content or "")
    assert calls == tool_calls_of(answer) and calls
    assert json.loads(calls[0]["arguments"]) == {"city": "sample city"}
    assert upstream_calls(upstreams[0]) == 1


def test_a_streamed_answer_is_stored_and_serves_a_later_plain_request(
    client, upstreams
):
    request = question()
    cache, text, _ = ask_streaming(client, request)
    headers, answer = ask(client, request)

    assert (cache, headers["x-cache"]) == ("MISS", "HIT")
    assert answer.choices[0].message.content == text
    assert upstream_calls(upstreams[0]) == 1


def test_no_cache_asks_upstream_again_and_refreshes_the_entry(client, upstreams):
    request = question()
    ask(client, request)
    headers, _ = ask(client, request, **{"Cache-Control": "no-cache"})
    again, _ = ask(client, request)

    assert headers["x-cache"] == "BYPASS" and again["x-cache"] == "HIT"
    assert upstream_calls(upstreams[0]) == 2


def test_no_store_neither_reads_nor_writes_the_cache(client, upstreams):
    request = question()
    first, _ = ask(client, request, **{"Cache-Control": "no-store"})
    second, _ = ask(client, request)
    third, _ = ask(client, request, **{"Cache-Control": "no-store"})

    assert (first["x-cache"], second["x-cache"], third["x-cache"]) == (
        "BYPASS",
        "MISS",
        "BYPASS",
    )
    assert upstream_calls(upstreams[0]) == 3


def test_two_clients_never_share_answers(live_gateway, client, upstreams):
    other = sdk(
        live_gateway, live_gateway.create_client(f"cache-{secrets.token_hex(4)}")
    )
    request = question()
    ask(client, request)
    headers, _ = ask(other, request)

    assert headers["x-cache"] == "MISS"
    assert upstream_calls(upstreams[0]) == 2


def test_concurrent_identical_misses_make_one_upstream_call(client, upstreams):
    upstreams[0].control("POST", "/_control/config", {"latency_ms": 400})
    request = question()
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: ask(client, request), range(6)))

    statuses = sorted(headers["x-cache"] for headers, _ in results)
    texts = {answer.choices[0].message.content for _, answer in results}
    assert statuses == ["HIT"] * 5 + ["MISS"]
    assert len(texts) == 1
    assert upstream_calls(upstreams[0]) == 1


def test_an_upstream_error_is_not_cached(client, upstreams):
    upstreams[0].faults({"kind": "status", "status": 400, "count": 1})
    request = question()
    with pytest.raises(openai.BadRequestError):
        ask(client, request)
    headers, answer = ask(client, request)

    assert headers["x-cache"] == "MISS" and answer.choices[0].message.content
    assert upstream_calls(upstreams[0]) == 2


def test_a_stream_cut_by_an_error_is_not_cached(client, upstreams):
    upstreams[0].faults({"kind": "error_event", "after_deltas": 2, "count": 1})
    request = question()
    with pytest.raises(openai.APIError):
        ask_streaming(client, request)
    cache, text, _ = ask_streaming(client, request)

    assert cache == "MISS" and text
    assert upstream_calls(upstreams[0]) == 2


def test_the_anthropic_surface_shares_the_cache_with_the_same_client(
    live_gateway, client, upstreams
):
    request = question()
    ask(client, request)
    body = {
        "model": "claude-haiku-4-5-20251001",
        "max_tokens": 64,
        "system": [{"type": "text", "text": "Answer briefly."}],
        "messages": request["messages"][1:],
    }
    reply = httpx.post(
        live_gateway.url + "/v1/messages",
        json=body,
        headers={"x-api-key": live_gateway.key, "anthropic-version": "2023-06-01"},
        timeout=30,
    )

    assert reply.status_code == 200, reply.text
    assert reply.headers["x-cache"] == "HIT"
    assert upstream_calls(upstreams[0]) == 1


@pytest.fixture(scope="module")
def redis_replicas(live_dir, standin, ollama_standin, redis_server):
    """Two gateways sharing one Redis (and one database, so one client key)."""
    folder = live_dir / "cache-replicas"
    env = gateway_env(
        folder,
        anthropic_url=standin.url,
        ollama_url=ollama_standin.url,
        REDIS_URL=f"redis://127.0.0.1:{redis_server.port}/3",
    )
    first = start_gateway(folder, env, name="cache-replica-0")
    second = start_gateway(folder, env, name="cache-replica-1", migrate=False)
    second.key = first.key
    yield first, second
    first.stop()
    second.stop()


def test_replicas_share_answers_through_redis(redis_replicas, upstreams):
    first, second = (sdk(gateway) for gateway in redis_replicas)
    request = question()
    miss, _ = ask(first, request)
    hit, _ = ask(second, request)

    assert (miss["x-cache"], hit["x-cache"]) == ("MISS", "HIT")
    assert upstream_calls(upstreams[0]) == 1


def test_concurrent_misses_on_two_replicas_make_one_upstream_call(
    redis_replicas, upstreams
):
    upstreams[0].control("POST", "/_control/config", {"latency_ms": 600})
    clients = [sdk(gateway) for gateway in redis_replicas]
    request = question()
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda i: ask(clients[i % 2], request), range(6)))

    statuses = sorted(headers["x-cache"] for headers, _ in results)
    assert statuses == ["HIT"] * 5 + ["MISS"]
    assert upstream_calls(upstreams[0]) == 1


def test_a_growing_conversation_reads_its_history_from_the_prompt_cache(
    client, upstreams
):
    system = (
        f"Session {secrets.token_hex(4)}. " + "Keep answers short and exact. " * 250
    )
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": "First question: what is a prefix?"},
    ]
    _, first = ask(
        client, {"model": "claude-sonnet-4-5", "max_tokens": 32, "messages": messages}
    )
    messages += [
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "Second question: and a suffix?"},
    ]
    headers, second = ask(
        client, {"model": "claude-sonnet-4-5", "max_tokens": 32, "messages": messages}
    )

    assert cache_writes(first) == first.usage.prompt_tokens
    assert second.usage.prompt_tokens_details.cached_tokens == first.usage.prompt_tokens
    assert (
        cache_writes(second) == second.usage.prompt_tokens - first.usage.prompt_tokens
    )
    assert "breakpoints=" in headers["x-tokensgate-optimizations"]
    billing = upstreams[0].stats()["billing"]
    assert billing["cache_read_tokens"] == first.usage.prompt_tokens
