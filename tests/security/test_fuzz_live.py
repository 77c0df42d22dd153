"""Thousands of generated and mutated requests against a live gateway.

Every answer must be below 500 (the stand-in upstream is told no faults, so
no 502-504 is legitimate either), carry a request id, and, if it is an
error, use the error shape of the surface called, as docs/openapi.json
describes it. Successful answers must match their documented schema. After
each endpoint's run the gateway's log must hold no traceback and no ERROR
line. ``TG_FUZZ_EXAMPLES`` sets the examples per endpoint.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.live import LiveGateway
from tests.security import fuzz_bodies, fuzzing
from tests.security.fuzzing import FuzzRequest
from tests.security.shapes import error_schema_for, schema_errors

pytestmark = pytest.mark.live

EXAMPLES = int(os.environ.get("TG_FUZZ_EXAMPLES", "1200"))
CLIENT_STATUSES = {400, 401, 403, 404, 413, 429}
SUCCESS_SCHEMAS = {
    "/v1/chat/completions": "ChatCompletion",
    "/v1/messages": "Message",
    "/v1/messages/count_tokens": "TokenCount",
    "/v1/models": "ModelList",
}


def _fuzz(gateway: LiveGateway, strategy: st.SearchStrategy) -> None:
    statuses: Counter[int] = Counter()
    with httpx.Client(base_url=gateway.url, timeout=30) as client:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def send_and_check(request: FuzzRequest) -> None:
            response = _send(client, gateway, request)
            statuses[response.status_code] += 1
            _check(request, response)

        send_and_check()

    # The run must have reached the upstream often, and refused often: a
    # generator whose every request fails validation tests nothing deep.
    total = sum(statuses.values())
    print(f"statuses: {dict(sorted(statuses.items()))}")
    assert statuses[200] >= total * 0.1, statuses
    assert total - statuses[200] >= total * 0.2, statuses
    _assert_clean_log(gateway)


def test_fuzzed_chat_completions(strict_gateway, upstreams):
    _fuzz(
        strict_gateway,
        fuzzing.requests_for(
            "/v1/chat/completions",
            "openai",
            fuzz_bodies.chat_bodies(),
            fuzz_bodies.valid_chat_bodies(),
        ),
    )


def test_fuzzed_messages(strict_gateway, upstreams):
    _fuzz(
        strict_gateway,
        fuzzing.requests_for(
            "/v1/messages",
            "anthropic",
            fuzz_bodies.messages_bodies(),
            fuzz_bodies.valid_messages_bodies(),
        ),
    )


def test_fuzzed_count_tokens(strict_gateway, upstreams):
    _fuzz(
        strict_gateway,
        fuzzing.requests_for(
            "/v1/messages/count_tokens",
            "anthropic",
            fuzz_bodies.messages_bodies(count_only=True),
            fuzz_bodies.valid_messages_bodies(count_only=True),
        ),
    )


def test_fuzzed_model_list(strict_gateway, upstreams):
    _fuzz(strict_gateway, fuzzing.model_list_requests())


def _send(
    client: httpx.Client, gateway: LiveGateway, request: FuzzRequest
) -> httpx.Response:
    headers = dict(request.headers)
    key = {
        "valid": gateway.key,
        "none": None,
        "wrong": "tg_" + "A" * 43,
        "disabled": gateway.disabled_key,
        "mangled": gateway.key[:-2] + "\u00e9",
    }[request.key]
    if key is not None:
        headers.update(_auth_headers(key, request.key_style))

    return client.request(
        request.method,
        request.path,
        content=request.body,
        headers={name: value.encode("latin-1") for name, value in headers.items()},
    )


def _auth_headers(key: str, style: str) -> dict[str, str]:
    if style == "x-api-key":
        return {"x-api-key": key}
    if style == "both":
        return {"x-api-key": key, "Authorization": f"Bearer {key}"}
    if style == "lowercase-bearer":
        return {"Authorization": f"bearer  {key}"}
    return {"Authorization": f"Bearer {key}"}


def _check(request: FuzzRequest, response: httpx.Response) -> None:
    path = request.path.split("?", 1)[0]
    status = response.status_code
    context = _describe(request, response)

    assert status < 500, context
    assert response.headers.get("x-request-id"), context
    if status >= 400:
        assert status in CLIENT_STATUSES, context
        headers = {name.lower(): value for name, value in request.headers.items()}
        _assert_schema(response, error_schema_for(path, headers), context)
    elif response.headers.get("content-type", "").startswith("text/event-stream"):
        _assert_clean_stream(response.text, context)
    else:
        assert status == 200, context
        _assert_schema(response, SUCCESS_SCHEMAS[path], context)


def _assert_schema(response: httpx.Response, schema: str, context: str) -> None:
    try:
        body = response.json()
    except json.JSONDecodeError:
        pytest.fail(f"not JSON\n{context}")
    assert schema_errors(body, schema) == [], context


def _assert_clean_stream(text: str, context: str) -> None:
    """No error event: the stand-in was told no faults, so none is legitimate."""
    for line in text.splitlines():
        assert line != "event: error", context
        if line.startswith("data: ") and line != "data: [DONE]":
            payload = json.loads(line[6:])
            assert "error" not in payload or payload.get("type") != "error", context
            assert not (isinstance(payload.get("error"), dict)), context


def _assert_clean_log(gateway: LiveGateway) -> None:
    bad = [
        line
        for line in gateway.log_text().splitlines()
        if "Traceback" in line
        or '"level":"ERROR"' in line
        or "Exception inside application" in line
    ]
    assert not bad, "\n".join(bad[:20])


def _describe(request: FuzzRequest, response: httpx.Response) -> str:
    body = (request.body or b"")[:600]
    return (
        f"{request.method} {request.path} key={request.key}/{request.key_style}\n"
        f"headers={request.headers}\nbody={body!r}\n"
        f"-> {response.status_code} {response.headers.get('content-type')}\n"
        f"{response.text[:600]}"
    )
