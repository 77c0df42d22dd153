"""``/v1/messages`` on the wire: bytes, headers and credentials.

These tests speak raw HTTP, as the older SDK generation and Claude Code do,
and compare what the gateway relays with what the upstream sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import orjson
import pytest

from tests.e2e.replay_upstream import ReplayUpstream, recording
from tests.live import LiveGateway, StandIn, gateway_env, start_gateway

pytestmark = pytest.mark.live

OLD_VERSION, NEW_VERSION = "2023-06-01", "2026-10-21"
HELLO = {
    "model": "claude-haiku-4-5",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "Hello there, gateway."}],
}
# Message and tool call ids are random per answer; everything else must match
# to the byte.
MESSAGE_ID = re.compile(rb'"(msg|toolu)_[A-Za-z0-9]+"')


def old_style(key: str) -> dict[str, str]:
    return {"x-api-key": key, "anthropic-version": OLD_VERSION}


def new_style(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}", "anthropic-version": NEW_VERSION}


# Every request here must reach the upstream, so none is answered from the
# response cache.
BASE_HEADERS = {"content-type": "application/json", "cache-control": "no-cache"}


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    headers = {**BASE_HEADERS, **headers}
    return httpx.post(url, content=body, headers=headers, timeout=30)


def stream_bytes(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    headers = {**BASE_HEADERS, **headers}
    with httpx.stream("POST", url, content=body, headers=headers, timeout=30) as reply:
        assert reply.status_code == 200, reply.read()
        assert reply.headers["content-type"].startswith("text/event-stream")
        return b"".join(reply.iter_raw())


@pytest.mark.parametrize("style", [old_style, new_style], ids=["x-api-key", "bearer"])
def test_both_header_generations_are_accepted(live_gateway, upstreams, style):
    headers = style(live_gateway.key)

    reply = post(live_gateway.url + "/v1/messages", orjson.dumps(HELLO), headers)

    assert reply.status_code == 200, reply.text
    assert reply.json()["content"][0]["type"] == "text"
    sent = upstreams[0].stats()["last_request"]["headers"]
    assert sent["anthropic-version"] == headers["anthropic-version"]


def test_client_credentials_never_reach_the_upstream(live_gateway, upstreams):
    cookie = "sessionid=client-session-cookie"
    for style in (old_style, new_style):
        headers = {**style(live_gateway.key), "cookie": cookie}
        post(live_gateway.url + "/v1/messages", orjson.dumps(HELLO), headers)
        post(
            live_gateway.url + "/v1/messages/count_tokens",
            orjson.dumps({"model": HELLO["model"], "messages": HELLO["messages"]}),
            headers,
        )

    requests = upstreams[0].stats()["recent_requests"]
    upstream_key = live_gateway.env["CLAUDE_API_KEY"]
    assert len(requests) == 4
    for request in requests:
        headers = request["headers"]
        assert live_gateway.key not in " ".join(headers.values())
        assert "cookie" not in headers
        assert headers.get("x-api-key", upstream_key) == upstream_key
        assert headers.get("authorization", f"Bearer {upstream_key}") == (
            f"Bearer {upstream_key}"
        )


def test_beta_query_string_and_header_reach_the_upstream(live_gateway, upstreams):
    headers = {**new_style(live_gateway.key), "anthropic-beta": "b-one,b-two"}
    count_body = {"model": HELLO["model"], "messages": HELLO["messages"]}

    message = post(
        live_gateway.url + "/v1/messages?beta=true", orjson.dumps(HELLO), headers
    )
    count = post(
        live_gateway.url + "/v1/messages/count_tokens?beta=true",
        orjson.dumps(count_body),
        headers,
    )

    assert message.status_code == 200 and count.status_code == 200
    for sent in upstreams[0].stats()["recent_requests"]:
        assert sent["query"] == "beta=true"
        assert sent["headers"]["anthropic-beta"] == "b-one,b-two"


def test_non_streaming_body_is_the_upstreams_bytes(live_gateway, standin, upstreams):
    body = orjson.dumps(HELLO)

    through = post(live_gateway.url + "/v1/messages", body, old_style(live_gateway.key))
    direct = post(standin.url + "/v1/messages", body, old_style("sk-ant-direct"))

    assert MESSAGE_ID.sub(b"ID", through.content) == MESSAGE_ID.sub(
        b"ID", direct.content
    )
    assert through.headers["request-id"] == through.headers["x-request-id"]


def test_thinking_stream_is_relayed_byte_for_byte(live_gateway, standin, upstreams):
    body = orjson.dumps(
        {
            **HELLO,
            "model": "claude-sonnet-4-5",
            "max_tokens": 2048,
            "stream": True,
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "tools": [{"name": "lookup", "input_schema": {"type": "object"}}],
        }
    )

    through = stream_bytes(
        live_gateway.url + "/v1/messages", body, new_style(live_gateway.key)
    )
    direct = stream_bytes(
        standin.url + "/v1/messages", body, new_style("sk-ant-direct")
    )

    assert b'"signature_delta"' in through
    assert MESSAGE_ID.sub(b"ID", through) == MESSAGE_ID.sub(b"ID", direct)


def test_a_claude_code_request_passes_through(live_gateway, upstreams):
    body = orjson.dumps(claude_code_body())
    headers = {
        **old_style(live_gateway.key),
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,"
        "fine-grained-tool-streaming-2025-05-14",
        "x-app": "cli",
        "user-agent": "claude-cli/2.1.0 (external, cli)",
    }

    data = stream_bytes(live_gateway.url + "/v1/messages?beta=true", body, headers)

    events = [line[7:] for line in data.split(b"\n") if line.startswith(b"event: ")]
    assert events[0] == b"message_start" and events[-1] == b"message_stop"
    assert b'"tool_use"' in data
    sent = upstreams[0].stats()["last_request"]
    assert sent["body"] == orjson.loads(body)
    assert int(sent["headers"]["content-length"]) == len(body)
    assert sent["query"] == "beta=true"
    assert sent["headers"]["anthropic-beta"] == headers["anthropic-beta"]


def claude_code_body() -> dict:
    """A request shaped like Claude Code's: cached system blocks, tools, metadata."""
    cached = {"type": "ephemeral"}
    return {
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 32000,
        "stream": True,
        "metadata": {"user_id": "user_0123abcd_account__session_4567"},
        "system": [
            {"type": "text", "text": "You are Claude Code, a CLI for coding."},
            {
                "type": "text",
                "text": "Working directory: /src/app",
                "cache_control": cached,
            },
        ],
        "tools": [
            {
                "name": "Bash",
                "description": "Run a shell command.",
                "input_schema": {
                    "type": "object",
                    "properties": {"command": {"type": "string"}},
                    "required": ["command"],
                    "additionalProperties": False,
                    "$schema": "http://json-schema.org/draft-07/schema#",
                },
            },
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
                    {
                        "type": "text",
                        "text": "List the files.",
                        "cache_control": cached,
                    },
                ],
            }
        ],
    }


# A recorded real stream, replayed through a gateway whose upstream is a
# server that sends those exact bytes.


@pytest.fixture(scope="module")
def replay_gateway(live_dir: Path, ollama_standin: StandIn) -> Iterator[LiveGateway]:
    upstream = ReplayUpstream().start()
    env = gateway_env(
        live_dir / "replay",
        anthropic_url=upstream.url,
        ollama_url=ollama_standin.url,
        OLLAMA_FALLBACK_ENABLED="false",
    )
    server = start_gateway(live_dir / "replay", env, name="replay")
    yield server
    server.stop()
    upstream.stop()


@pytest.mark.parametrize("name", ["basic_response.sse", "tool_use_response.sse"])
def test_recorded_anthropic_stream_arrives_identical(replay_gateway, name):
    body = orjson.dumps(
        {
            "model": "claude-sonnet-4-20250514",
            "max_tokens": 1024,
            "stream": True,
            "messages": [{"role": "user", "content": name}],
        }
    )

    relayed = stream_bytes(
        replay_gateway.url + "/v1/messages", body, new_style(replay_gateway.key)
    )

    assert relayed == recording(name)


def test_the_sdk_reads_the_recorded_tool_stream(replay_gateway):
    claude = anthropic.Anthropic(
        base_url=replay_gateway.url,
        api_key=replay_gateway.key,
        max_retries=0,
        default_headers={"cache-control": "no-cache"},
    )
    with claude.messages.stream(
        model="claude-sonnet-4-20250514",
        max_tokens=1024,
        messages=[{"role": "user", "content": "tool_use_response.sse"}],
    ) as stream:
        final = stream.get_final_message()

    tool_use = final.content[1]
    assert tool_use.name == "get_weather"
    assert tool_use.input == {"location": "Paris"}
    assert final.usage.output_tokens == 65
