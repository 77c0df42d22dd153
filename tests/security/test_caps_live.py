"""Caps on messages, tools and max_tokens on both live surfaces, and a 404 in
the surface's shape for paths that do not exist."""

from __future__ import annotations

import httpx
import pytest

from tests.security.conftest import STRICT_LIMITS

pytestmark = pytest.mark.live

MAX_MESSAGES = int(STRICT_LIMITS["MAX_MESSAGES"])
MAX_TOOLS = int(STRICT_LIMITS["MAX_TOOLS"])
MAX_OUTPUT_TOKENS = int(STRICT_LIMITS["MAX_OUTPUT_TOKENS"])


def _messages(count: int) -> list[dict]:
    roles = ["user", "assistant"]
    return [{"role": roles[i % 2], "content": "hi"} for i in range(count - 1)] + [
        {"role": "user", "content": "hi"}
    ]


def _openai(gateway, **body) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {gateway.key}"},
        json={"model": "claude-haiku-4-5", **body},
        timeout=30,
    )


def _anthropic(gateway, path: str = "/v1/messages", **body) -> httpx.Response:
    return httpx.post(
        gateway.url + path,
        headers={"x-api-key": gateway.key, "anthropic-version": "2023-06-01"},
        json={"model": "claude-haiku-4-5", **body},
        timeout=30,
    )


def _openai_tool(name: str) -> dict:
    return {
        "type": "function",
        "function": {"name": name, "parameters": {"type": "object"}},
    }


def _anthropic_tool(name: str) -> dict:
    return {"name": name, "input_schema": {"type": "object", "properties": {}}}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": _messages(MAX_MESSAGES + 1)}, "messages"),
        (
            {
                "messages": _messages(1),
                "tools": [_openai_tool(f"t{i}") for i in range(4)],
            },
            "tools",
        ),
        ({"messages": _messages(1), "max_tokens": MAX_OUTPUT_TOKENS + 1}, "max_tokens"),
        (
            {"messages": _messages(1), "max_completion_tokens": MAX_OUTPUT_TOKENS + 1},
            "max_completion_tokens",
        ),
    ],
)
def test_openai_surface_names_the_cap_exceeded(strict_gateway, upstreams, body, param):
    response = _openai(strict_gateway, **body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert "at most" in error["message"] or "the most is" in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_tokens": 16, "messages": _messages(MAX_MESSAGES + 1)}, "messages"),
        (
            {
                "max_tokens": 16,
                "messages": _messages(1),
                "tools": [_anthropic_tool(f"t{i}") for i in range(4)],
            },
            "tools",
        ),
        ({"max_tokens": MAX_OUTPUT_TOKENS + 1, "messages": _messages(1)}, "max_tokens"),
    ],
)
def test_anthropic_surface_names_the_cap_exceeded(
    strict_gateway, upstreams, body, field
):
    response = _anthropic(strict_gateway, **body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith(f"{field}:")


def test_count_tokens_caps_messages_too(strict_gateway, upstreams):
    response = _anthropic(
        strict_gateway,
        "/v1/messages/count_tokens",
        messages=_messages(MAX_MESSAGES + 1),
    )

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("messages:")


def test_requests_at_the_caps_are_served(strict_gateway, upstreams):
    tools = [_openai_tool(f"t{i}") for i in range(MAX_TOOLS)]
    response = _openai(
        strict_gateway,
        messages=_messages(MAX_MESSAGES),
        tools=tools,
        max_tokens=MAX_OUTPUT_TOKENS,
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "headers", "shape"),
    [
        ("/v1/completions", {}, "openai"),
        ("/v1/chat/completions/", {}, "openai"),
        ("/v1/messages/batches", {}, "anthropic"),
        ("/v1/files", {"anthropic-version": "2023-06-01"}, "anthropic"),
    ],
)
def test_unknown_api_paths_get_a_404_in_the_callers_shape(
    strict_gateway, path, headers, shape
):
    response = httpx.post(
        strict_gateway.url + path,
        headers={"Authorization": f"Bearer {strict_gateway.key}", **headers},
        json={},
        timeout=10,
    )

    assert response.status_code == 404
    body = response.json()
    if shape == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
    else:
        assert body["error"]["type"] == "not_found_error"
