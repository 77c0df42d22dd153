"""Tenants stay apart, operator pages stay closed, client credentials stay home.

Checked on a live gateway: one client never gets another's cached answer or
is held back by another's limits; admin, dashboard and its socket refuse
anyone without a staff session (gateway keys included); what the client sends
as credentials never reaches the upstream, and nothing in a request can point
the gateway at another host.
"""

from __future__ import annotations

import secrets
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.live import LiveGateway, StandIn
from tests.security.rawhttp import RawConnection

pytestmark = pytest.mark.live

MODEL = "claude-haiku-4-5"
UPSTREAM_KEY = "sk-ant-standin-upstream-secret-0123456789"


def _client(gateway: LiveGateway, *args: str) -> str:
    return gateway.create_client(f"iso-{secrets.token_hex(4)}", *args)


def _chat(
    gateway: LiveGateway, key: str, prompt: str, **headers: str
) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}", **headers},
        json={
            "model": MODEL,
            "max_tokens": 16,
            "messages": [{"role": "user", "content": prompt}],
        },
        timeout=30,
    )


def _message(
    gateway: LiveGateway, key: str, prompt: str, **headers: str
) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/messages",
        headers={"x-api-key": key, "anthropic-version": "2023-06-01", **headers},
        json={
            "model": MODEL,
            "max_tokens": 16,
            "messages": [{"role": "user", "content": prompt}],
        },
        timeout=30,
    )


@pytest.mark.parametrize("send", [_chat, _message], ids=["openai", "anthropic"])
def test_one_client_never_gets_anothers_cached_answer(live_gateway, upstreams, send):
    first, second = _client(live_gateway), _client(live_gateway)
    prompt = f"What is the capital of Atlantis? {secrets.token_hex(8)}"

    assert send(live_gateway, first, prompt).headers["X-Cache"] == "MISS"
    assert send(live_gateway, first, prompt).headers["X-Cache"] == "HIT"
    assert send(live_gateway, second, prompt).headers["X-Cache"] == "MISS"


def test_one_client_exhausting_its_rate_limit_leaves_others_alone(
    live_gateway, upstreams
):
    greedy, bystander = (
        _client(live_gateway, "--rpm", "2"),
        _client(live_gateway, "--rpm", "2"),
    )
    no_cache = {"Cache-Control": "no-cache"}

    statuses = [
        _chat(live_gateway, greedy, "hi", **no_cache).status_code for _ in range(3)
    ]

    assert statuses == [200, 200, 429]
    assert _chat(live_gateway, bystander, "hi", **no_cache).status_code == 200


def test_a_concurrency_cap_refuses_only_its_own_client(live_gateway, upstreams):
    standin, _ = upstreams
    capped_name = f"iso-capped-{secrets.token_hex(4)}"
    capped = live_gateway.create_client(capped_name)
    other = _client(live_gateway)
    live_gateway.manage(
        "shell",
        "-c",
        (
            "from gateway.models import ApiClient; "
            f"ApiClient.objects.filter(name={capped_name!r}).update(max_concurrent_requests=1)"
        ),
    )
    standin.control("POST", "/_control/config", {"latency_ms": 1500})

    no_cache = {"Cache-Control": "no-cache"}
    with ThreadPoolExecutor(3) as pool:
        calls = [
            pool.submit(_chat, live_gateway, key, "slow", **no_cache)
            for key in (capped, capped, other)
        ]
        responses = [call.result() for call in calls]

    assert sorted(r.status_code for r in responses[:2]) == [200, 429]
    refused = next(r for r in responses[:2] if r.status_code == 429)
    assert refused.json()["error"]["code"] == "concurrent_requests_exceeded"
    assert refused.headers["Retry-After"]
    assert responses[2].status_code == 200


@pytest.mark.parametrize("path", ["/admin/", "/dashboard", "/admin/gateway/apiclient/"])
def test_operator_pages_send_anonymous_users_to_the_login(live_gateway, path):
    for headers in ({}, {"Authorization": f"Bearer {live_gateway.key}"}):
        response = httpx.get(live_gateway.url + path, headers=headers, timeout=10)

        assert response.status_code == 302
        assert response.headers["Location"].startswith("/admin/login/")


def test_the_dashboard_socket_refuses_anonymous_users(live_gateway):
    connection = RawConnection(live_gateway.port)
    connection.send_head(
        "GET",
        "/ws/dashboard/",
        {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
            "Origin": live_gateway.url,
            "Authorization": f"Bearer {live_gateway.key}",
        },
    )

    assert connection.read_response().status == 403


def _credential_headers(key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {key}",
        "x-api-key": key,
        "Cookie": "sessionid=client-session-cookie; csrftoken=client-csrf",
        "Proxy-Authorization": "Basic Y2xpZW50OnNlY3JldA==",
    }


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/messages", {"max_tokens": 8, "stream": False}),
        ("/v1/messages", {"max_tokens": 8, "stream": True}),
        ("/v1/messages/count_tokens", {}),
    ],
    ids=["messages", "stream", "count_tokens"],
)
def test_client_credentials_never_reach_the_upstream(
    live_gateway, upstreams, path, body
):
    standin, _ = upstreams
    key = live_gateway.key
    headers = {
        **_credential_headers(key),
        "anthropic-version": "2023-06-01",
        "Cache-Control": "no-cache",
    }
    payload = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **body}

    response = httpx.post(
        live_gateway.url + path, headers=headers, json=payload, timeout=30
    )

    assert response.status_code == 200
    _assert_upstream_saw_no_client_credentials(standin, key)


def test_openai_surface_credentials_never_reach_the_upstream(live_gateway, upstreams):
    standin, _ = upstreams
    key = live_gateway.key

    response = _chat(
        live_gateway,
        key,
        "hi",
        **_credential_headers(key),
        **{"Cache-Control": "no-cache"},
    )

    assert response.status_code == 200
    _assert_upstream_saw_no_client_credentials(standin, key)


def _assert_upstream_saw_no_client_credentials(standin: StandIn, key: str) -> None:
    seen = standin.stats()["last_request"]["headers"]
    # The SDK sends the gateway's own key in one header or the other,
    # depending on its version; nothing else may carry a credential.
    credentials = {seen.get("x-api-key"), seen.get("authorization")} - {None}
    assert credentials in ({UPSTREAM_KEY}, {f"Bearer {UPSTREAM_KEY}"}), seen
    assert key not in str(seen)
    assert "cookie" not in seen
    assert "proxy-authorization" not in seen
    assert "client-session-cookie" not in str(seen)


class Trap:
    """A listening socket that counts whoever connects to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.connections = 0
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def test_nothing_in_a_request_redirects_the_upstream_call(live_gateway, upstreams):
    standin, _ = upstreams
    trap = Trap()
    trap_host = trap.url.removeprefix("http://")
    redirecting = {
        "Host": trap_host,
        "X-Forwarded-Host": trap_host,
        "X-Forwarded-Proto": "http",
        "Forwarded": f"host={trap_host}",
        "X-Original-URL": trap.url,
        "anthropic-base-url": trap.url,
    }
    body_fields = {
        "base_url": trap.url,
        "api_base": trap.url,
        "url": trap.url,
        "endpoint": trap.url,
        "metadata": {"user_id": trap.url},
    }
    before = standin.stats()["requests"].get("/v1/messages", 0)

    try:
        for send in (_chat, _message):
            response = httpx.post(
                live_gateway.url
                + ("/v1/chat/completions" if send is _chat else "/v1/messages"),
                headers={
                    "Authorization": f"Bearer {live_gateway.key}",
                    "anthropic-version": "2023-06-01",
                    "Cache-Control": "no-cache",
                    **redirecting,
                },
                json={
                    "model": MODEL,
                    "max_tokens": 8,
                    "messages": [{"role": "user", "content": "hi"}],
                    **body_fields,
                },
                timeout=30,
            )
            assert response.status_code in (200, 400), response.text
    finally:
        trap.close()

    assert trap.connections == 0
    assert standin.stats()["requests"].get("/v1/messages", 0) > before


def test_metrics_and_health_show_no_prompts_or_keys(live_gateway, upstreams):
    key = _client(live_gateway)
    marker = f"private-prompt-{secrets.token_hex(6)}"
    assert _chat(live_gateway, key, marker).status_code == 200

    for path in ("/metrics", "/metrics/prometheus", "/health"):
        text = httpx.get(live_gateway.url + path, timeout=10).text
        assert marker not in text, path
        assert key not in text and key[10:22] not in text, path
