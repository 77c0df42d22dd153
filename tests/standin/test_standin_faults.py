"""Scripted faults: statuses, stream errors, dropped connections, stalls."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from gateway.standin import StandinServer

MODEL = "claude-haiku-4-5-20251001"
HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
BODY = {
    "model": MODEL,
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "hi"}],
}
STREAM_BODY = {**BODY, "stream": True}
CHAT_BODY = {"model": "llama3.2:1b", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinServer]:
    with StandinServer() as server:
        yield server


@pytest.fixture
def http(standin: StandinServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=standin.url, headers=HEADERS, timeout=5) as client:
        client.post("/_control/reset")
        yield client


def queue(http: httpx.Client, *faults: dict[str, Any]) -> None:
    response = http.post("/_control/faults", json={"faults": list(faults)})
    assert response.status_code == 200, response.text


def collect_lines(client: httpx.Client, lines: list[str]) -> None:
    """Read a streamed Messages answer line by line into ``lines``."""
    with client.stream("POST", "/v1/messages", json=STREAM_BODY) as response:
        assert response.status_code == 200
        lines.extend(response.iter_lines())


def collect_text(client: anthropic.Anthropic, received: list[str]) -> None:
    """Read a stream through the SDK, keeping the text pieces seen."""
    with client.messages.stream(**BODY) as stream:
        received.extend(stream.text_stream)


def event_names(text: str) -> list[str]:
    return [line[7:] for line in text.splitlines() if line.startswith("event: ")]


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (529, "overloaded_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (503, "overloaded_error"),
        (413, "request_too_large"),
        (401, "authentication_error"),
    ],
)
def test_status_fault_answers_in_anthropic_shape(
    http: httpx.Client, status: int, error_type: str
) -> None:
    queue(http, {"kind": "status", "status": status, "retry_after": 2})

    response = http.post("/v1/messages", json=BODY)

    assert response.status_code == status
    assert response.json()["error"]["type"] == error_type
    assert response.json()["request_id"] == response.headers["request-id"]
    if status in (429, 529):
        assert response.headers["retry-after"] == "2"


def test_status_fault_is_consumed_once(http: httpx.Client) -> None:
    queue(http, {"kind": "status", "status": 529})

    statuses = [http.post("/v1/messages", json=BODY).status_code for _ in range(2)]

    assert statuses == [529, 200]


def test_fault_count_minus_one_lasts_until_reset(http: httpx.Client) -> None:
    queue(http, {"kind": "status", "status": 500, "count": -1})

    statuses = [http.post("/v1/messages", json=BODY).status_code for _ in range(3)]
    http.post("/_control/reset")

    assert statuses == [500, 500, 500]
    assert http.post("/v1/messages", json=BODY).status_code == 200


def test_fault_only_hits_its_path_prefix(http: httpx.Client) -> None:
    queue(http, {"kind": "status", "status": 503, "path_prefix": "/api/"})

    anthropic_status = http.post("/v1/messages", json=BODY).status_code
    ollama = http.post("/api/chat", json={**CHAT_BODY, "stream": False})

    assert anthropic_status == 200
    assert ollama.status_code == 503
    assert isinstance(ollama.json()["error"], str)


def test_sdk_raises_overloaded_for_529(
    standin: StandinServer, http: httpx.Client
) -> None:
    queue(http, {"kind": "status", "status": 529})
    client = anthropic.Anthropic(base_url=standin.url, api_key="k", max_retries=0)

    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(**BODY)

    assert caught.value.status_code == 529


def test_error_event_ends_the_stream_after_deltas(http: httpx.Client) -> None:
    queue(http, {"kind": "error_event", "after_deltas": 2})

    response = http.post("/v1/messages", json=STREAM_BODY)

    names = event_names(response.text)
    assert response.status_code == 200
    assert names.count("content_block_delta") == 2
    assert names[-1] == "error"
    assert "message_stop" not in names
    assert '"overloaded_error"' in response.text


def test_sdk_stream_raises_on_error_event(
    standin: StandinServer, http: httpx.Client
) -> None:
    queue(http, {"kind": "error_event", "after_deltas": 1})
    client = anthropic.Anthropic(base_url=standin.url, api_key="k", max_retries=0)
    received: list[str] = []

    with pytest.raises(anthropic.APIStatusError):
        collect_text(client, received)

    assert len(received) == 1


def test_error_event_on_a_plain_request_is_a_529(http: httpx.Client) -> None:
    queue(http, {"kind": "error_event", "after_deltas": 2})

    assert http.post("/v1/messages", json=BODY).status_code == 529


def test_drop_before_headers_resets_the_connection(http: httpx.Client) -> None:
    queue(http, {"kind": "drop"})

    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.post("/v1/messages", json=BODY)

    assert http.post("/v1/messages", json=BODY).status_code == 200


def test_drop_mid_stream_truncates_the_body(http: httpx.Client) -> None:
    queue(http, {"kind": "drop", "after_deltas": 3})
    lines: list[str] = []

    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        collect_lines(http, lines)

    assert event_names("\n".join(lines)).count("content_block_delta") == 3


def test_stall_mid_stream_trips_a_read_timeout(
    standin: StandinServer, http: httpx.Client
) -> None:
    queue(http, {"kind": "stall", "after_deltas": 1, "seconds": 2})
    timeout = httpx.Timeout(5, read=0.3)
    impatient = httpx.Client(base_url=standin.url, headers=HEADERS, timeout=timeout)
    lines: list[str] = []

    with impatient, pytest.raises(httpx.ReadTimeout):
        collect_lines(impatient, lines)

    assert event_names("\n".join(lines)).count("content_block_delta") == 1


def test_short_stall_then_the_stream_completes(http: httpx.Client) -> None:
    queue(http, {"kind": "stall", "after_deltas": 2, "seconds": 0.3})

    started = time.monotonic()
    response = http.post("/v1/messages", json=STREAM_BODY)

    assert time.monotonic() - started >= 0.3
    assert event_names(response.text)[-1] == "message_stop"


def test_stall_before_headers_on_a_plain_request(http: httpx.Client) -> None:
    queue(http, {"kind": "stall", "seconds": 0.3})

    started = time.monotonic()
    response = http.post("/v1/messages", json=BODY)

    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200


def test_latency_fault_and_configured_latency_add_up(http: httpx.Client) -> None:
    http.post("/_control/config", json={"latency_ms": 100})
    queue(http, {"kind": "latency", "seconds": 0.2})

    started = time.monotonic()
    http.post("/v1/messages", json=BODY)
    slow = time.monotonic() - started
    started = time.monotonic()
    http.post("/v1/messages", json=BODY)
    normal = time.monotonic() - started

    assert slow >= 0.3
    assert 0.1 <= normal < 0.3


def test_ollama_stream_error_is_an_error_line(http: httpx.Client) -> None:
    queue(http, {"kind": "error_event", "after_deltas": 1, "path_prefix": "/api/chat"})

    response = http.post("/api/chat", json=CHAT_BODY)

    lines = response.text.splitlines()
    assert response.status_code == 200
    assert len(lines) == 2
    assert '"error"' in lines[-1]


def test_openai_stream_error_is_an_error_chunk(http: httpx.Client) -> None:
    queue(http, {"kind": "error_event", "after_deltas": 0})

    response = http.post("/v1/chat/completions", json={**CHAT_BODY, "stream": True})

    assert response.text.startswith('data: {"error"')
    assert "[DONE]" not in response.text


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "explode"},
        {"kind": "status", "status": 200},
        {"kind": "stall", "seconds": -1},
        {"kind": "status", "colour": "red"},
        {"kind": "status", "count": 0},
    ],
)
def test_malformed_faults_are_refused(
    http: httpx.Client, fault: dict[str, Any]
) -> None:
    response = http.post("/_control/faults", json={"faults": [fault]})

    assert response.status_code == 400
    assert http.get("/_control/faults").json() == {"faults": []}
