"""The control API and the ways of starting the stand-in."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from gateway.standin import StandinOptions, StandinServer

MODEL = "claude-haiku-4-5-20251001"
HEADERS = {"x-api-key": "client-secret", "anthropic-version": "2023-06-01"}
BODY = {
    "model": MODEL,
    "max_tokens": 200,
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinServer]:
    with StandinServer(StandinOptions(reply_tokens=30)) as server:
        yield server


@pytest.fixture
def http(standin: StandinServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=standin.url, headers=HEADERS) as client:
        client.post("/_control/reset")
        yield client


def test_stats_show_what_was_forwarded(http: httpx.Client) -> None:
    http.post("/v1/messages?beta=true", json=BODY, headers={"anthropic-beta": "x-1"})
    http.get("/api/tags")
    http.post("/v1/messages", json=BODY)

    stats = http.get("/_control/stats").json()

    assert stats["requests"] == {"/v1/messages": 2, "/api/tags": 1}
    assert stats["anthropic_requests"] == 2
    assert stats["ollama_requests"] == 1
    last = stats["last_request"]
    assert last["path"] == "/v1/messages"
    assert last["headers"]["x-api-key"] == "client-secret"
    assert last["body"] == BODY
    assert stats["recent_requests"][0]["query"] == "beta=true"
    assert stats["recent_requests"][0]["headers"]["anthropic-beta"] == "x-1"


def test_reset_clears_counts_faults_and_bill(http: httpx.Client) -> None:
    http.post("/v1/messages", json=BODY)
    http.post("/_control/faults", json={"faults": [{"kind": "status", "count": 5}]})

    http.post("/_control/reset")

    stats = http.get("/_control/stats").json()
    assert stats["requests"] == {}
    assert stats["last_request"] is None
    assert stats["billing"]["requests"] == 0
    assert stats["faults_pending"] == []


def test_config_changes_reply_length_until_reset(http: httpx.Client) -> None:
    default = http.post("/v1/messages", json=BODY).json()["usage"]["output_tokens"]
    http.post("/_control/config", json={"reply_tokens": 12})
    changed = http.post("/v1/messages", json=BODY).json()["usage"]["output_tokens"]
    http.post("/_control/reset")
    restored = http.post("/v1/messages", json=BODY).json()["usage"]["output_tokens"]

    assert (default, changed, restored) == (30, 12, 30)


def test_bad_config_changes_nothing(http: httpx.Client) -> None:
    response = http.post("/_control/config", json={"reply_tokens": 5, "speed": 1})

    assert response.status_code == 400
    assert http.get("/_control/config").json()["reply_tokens"] == 30


def test_chunk_delay_spreads_the_stream_over_time(http: httpx.Client) -> None:
    http.post("/_control/config", json={"chunk_delay_ms": 20})
    arrivals = []

    with http.stream("POST", "/v1/messages", json={**BODY, "stream": True}) as response:
        for line in response.iter_lines():
            if "text_delta" in line:
                arrivals.append(time.monotonic())

    assert len(arrivals) >= 8
    assert arrivals[-1] - arrivals[0] >= 0.02 * (len(arrivals) - 1) * 0.9


def test_stream_outcomes_are_counted(http: httpx.Client) -> None:
    stream_body = {**BODY, "stream": True}
    http.post("/v1/messages", json=stream_body)
    http.post("/_control/faults", json={"faults": [{"kind": "error_event"}]})
    http.post("/v1/messages", json=stream_body)
    http.post("/_control/config", json={"chunk_delay_ms": 50})

    with http.stream("POST", "/v1/messages", json=stream_body) as response:
        next(line for line in response.iter_lines() if "text_delta" in line)

    assert wait_for_streams(http, "abandoned") == {
        "completed": 1,
        "faulted": 1,
        "abandoned": 1,
    }


def wait_for_streams(http: httpx.Client, outcome: str) -> dict[str, int]:
    """Poll the stats until a stream with ``outcome`` is counted."""
    deadline = time.monotonic() + 2
    while True:
        streams: dict[str, int] = http.get("/_control/stats").json()["streams"]
        if streams[outcome] or time.monotonic() > deadline:
            return streams
        time.sleep(0.01)


def test_oversized_body_is_refused_before_reading(standin: StandinServer) -> None:
    # httpx will not send a body shorter than its Content-Length, so the
    # request is written by hand: headers announcing 40 MB, and no body.
    host, port = standin.url.removeprefix("http://").split(":")
    head = (
        "POST /v1/messages HTTP/1.1\r\n"
        f"host: {host}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {40 * 1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head.encode())
        answer = sock.recv(65536).decode()

    assert answer.startswith("HTTP/1.1 413")
    assert '"request_too_large"' in answer


def test_unknown_path_is_a_404_in_the_surface_shape(http: httpx.Client) -> None:
    anthropic_shape = http.get("/v1/nothing").json()
    ollama_shape = http.get("/api/nothing").json()

    assert anthropic_shape["error"]["type"] == "not_found_error"
    assert isinstance(ollama_shape["error"], str)


def test_module_entry_point_announces_its_url() -> None:
    command = [sys.executable, "-m", "gateway.standin", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip() if process.stdout else ""
        url = line.removeprefix("standin listening on ")

        assert line.startswith("standin listening on http://127.0.0.1:")
        assert httpx.get(f"{url}/api/version").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
