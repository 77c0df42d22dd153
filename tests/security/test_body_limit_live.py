"""Oversized bodies get 413 before the gateway reads them, under either server.

Each test speaks HTTP over a bare socket, so it controls what is sent and
when: a ``Content-Length`` far beyond the limit followed by a few bytes, or a
chunked body sent piece by piece. The 413 must arrive while the client still
holds most of its upload back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import LiveGateway, StandIn, gateway_env
from tests.security.conftest import STRICT_LIMITS
from tests.security.rawhttp import RawConnection
from tests.security.servers import start_gateway_on

pytestmark = pytest.mark.live

LIMIT = int(STRICT_LIMITS["MAX_REQUEST_BYTES"])
PIECE = b"x" * 4096


@pytest.fixture(scope="module")
def uvicorn_gateway(
    live_dir: Path, standin: StandIn, ollama_standin: StandIn
) -> Iterator[LiveGateway]:
    tmp = live_dir / "body-limit-uvicorn"
    env = gateway_env(
        tmp, anthropic_url=standin.url, ollama_url=ollama_standin.url, **STRICT_LIMITS
    )
    gateway = start_gateway_on("uvicorn", tmp, env, name="gateway-uvicorn")
    yield gateway
    gateway.stop()


@pytest.fixture(params=["daphne", "uvicorn"])
def gateway(request: pytest.FixtureRequest) -> LiveGateway:
    """The same limits under daphne (the default server) and uvicorn."""
    if request.param == "daphne":
        return request.getfixturevalue("strict_gateway")
    return request.getfixturevalue("uvicorn_gateway")


def _connect(gateway: LiveGateway, path: str, **headers: str) -> RawConnection:
    connection = RawConnection(gateway.port)
    connection.send_head(
        "POST",
        path,
        {
            "Authorization": f"Bearer {gateway.key}",
            "Content-Type": "application/json",
            "anthropic-version": "2023-06-01",
            **headers,
        },
    )
    return connection


def test_huge_content_length_is_refused_before_the_body_is_sent(gateway):
    connection = _connect(
        gateway, "/v1/chat/completions", **{"Content-Length": str(10 * 1024**3)}
    )
    connection.send_body(b'{"model": ')

    assert connection.answered(wait=5.0), "no answer while the body was held back"
    response = connection.read_response()
    assert response.status == 413
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert str(LIMIT) in response.json()["error"]["message"].replace(",", "")
    assert connection.closed_by_server()
    assert connection.sent_body == 10


def test_anthropic_surface_gets_its_own_error_shape(gateway):
    connection = _connect(
        gateway, "/v1/messages?beta=true", **{"Content-Length": str(LIMIT + 1)}
    )

    assert connection.answered(wait=5.0)
    body = connection.read_response().json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "request_too_large"
    assert body["request_id"]


def test_expect_continue_gets_the_413_instead_of_continue(gateway):
    connection = _connect(
        gateway,
        "/v1/messages",
        **{"Content-Length": str(LIMIT * 10), "Expect": "100-continue"},
    )

    assert connection.answered(wait=5.0)
    assert connection.read_response().status == 413


def test_chunked_body_is_cut_off_at_the_limit(gateway):
    connection = _connect(
        gateway, "/v1/chat/completions", **{"Transfer-Encoding": "chunked"}
    )

    # Up to 1 MB is offered, a piece at a time; the answer must come soon
    # after the limit is passed, not after everything was sent.
    while connection.sent_body < 1024 * 1024 and not connection.answered(wait=0.05):
        try:
            connection.send_chunk(PIECE)
        except (BrokenPipeError, ConnectionResetError):
            break

    assert connection.answered(wait=5.0)
    assert connection.read_response().status == 413
    assert connection.sent_body <= LIMIT + 4 * len(PIECE)


def test_bodies_within_the_limit_are_served(gateway):
    body = b'{"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "%s"}]}'
    body = body % (b"a" * (LIMIT - 200))
    connection = _connect(
        gateway, "/v1/chat/completions", **{"Content-Length": str(len(body))}
    )
    connection.send_body(body)

    assert connection.read_response().status == 200


def test_chunked_bodies_within_the_limit_are_served(gateway):
    connection = _connect(gateway, "/v1/messages", **{"Transfer-Encoding": "chunked"})
    body = (
        b'{"model": "claude-haiku-4-5", "max_tokens": 16, '
        b'"messages": [{"role": "user", "content": "hello"}]}'
    )
    for start in range(0, len(body), 10):
        connection.send_chunk(body[start : start + 10])
    connection.sock.sendall(b"0\r\n\r\n")

    assert connection.read_response().status == 200


def test_the_log_names_the_refusal_without_the_key(gateway):
    connection = _connect(
        gateway, "/v1/chat/completions", **{"Content-Length": str(LIMIT * 2)}
    )
    assert connection.read_response().status == 413

    log = gateway.log_text()
    assert "request body over the size limit refused" in log
    assert gateway.key not in log
    assert "Traceback" not in log


def test_malformed_form_posts_reach_the_application(gateway):
    # Daphne's HTTP layer would parse a multipart body itself and answer a
    # malformed one with a bare 400; the surface's own error is expected.
    body = b'{"model": "auto"'
    connection = _connect(
        gateway,
        "/v1/messages",
        **{
            "Content-Length": str(len(body)),
            "Content-Type": "multipart/form-data; boundary=x",
        },
    )
    connection.send_body(body)

    response = connection.read_response()
    assert response.status == 400
    assert response.json()["type"] == "error"
    assert response.headers["x-request-id"]
