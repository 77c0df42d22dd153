"""Three gateway processes on one Redis and one PostgreSQL, as in production.

The replicas share one database (migrated once, one client key) on the test
session's PostgreSQL cluster, and a ``redis-server`` of this module's own.
Each test sends traffic through some replicas and checks what the others
see: limits, breakers, cache entries, dashboard events, request records.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from websockets.sync.client import connect

from tests.live import (
    LiveGateway,
    ServerProcess,
    StandIn,
    create_database,
    gateway_env,
    manage,
    start_gateway,
    start_redis,
)

pytestmark = pytest.mark.live

REPLICAS = 3
STAFF_USER, STAFF_PASSWORD = "replica-operator", "a-long-test-password-93"


def body(prompt: str) -> dict:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": prompt}],
    }


@pytest.fixture(scope="module")
def replicas_redis(live_dir: Path) -> Iterator[ServerProcess]:
    server = start_redis(live_dir, "replicas-pg-redis")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def database_url(postgres_server: str) -> str:
    return create_database(postgres_server, "replicas")


@pytest.fixture(scope="module")
def replicas(
    live_dir: Path,
    standin: StandIn,
    ollama_standin: StandIn,
    replicas_redis: ServerProcess,
    database_url: str,
) -> Iterator[list[LiveGateway]]:
    folder = live_dir / "replicas-pg"
    env = gateway_env(
        folder,
        anthropic_url=standin.url,
        ollama_url=ollama_standin.url,
        DATABASE_URL=database_url,
        REDIS_URL=f"redis://127.0.0.1:{replicas_redis.port}/0",
        EXPECTED_REPLICAS=str(REPLICAS),
        CB_FAILURE_THRESHOLD="2",
        CB_COOLDOWN_SECONDS="60",
        MAX_RETRIES="1",
        RECORD_FLUSH_SECONDS="0.2",
        # Bursts saturate this 2-core machine; a starved Redis then really
        # answers later than the default 0.1 s, and a request that timed out
        # would be limited in process, not in the shared window under test.
        REDIS_TIMEOUT_SECONDS="1",
    )
    servers: list[LiveGateway] = []
    try:
        first = start_gateway(folder, env, name="replica-0")
        servers.append(first)
        for index in range(1, REPLICAS):
            servers.append(
                start_gateway(
                    folder, env, name=f"replica-{index}", migrate=False, key=first.key
                )
            )
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(autouse=True)
def closed_breakers(replicas: list[LiveGateway], upstreams) -> Iterator[None]:
    replicas[0].manage("reset_breakers")
    yield
    upstreams[0].reset()
    replicas[0].manage("reset_breakers")


def post(replica: LiveGateway, key: str, prompt: str, **headers: str) -> httpx.Response:
    return httpx.post(
        replica.url + "/v1/chat/completions",
        json=body(prompt),
        headers={"Authorization": f"Bearer {key}", **headers},
        timeout=30,
    )


async def burst(
    replicas: list[LiveGateway], key: str, count: int
) -> list[httpx.Response]:
    """``count`` requests at once, spread evenly over the replicas."""
    async with httpx.AsyncClient(timeout=60) as client:
        calls = [
            client.post(
                replicas[index % len(replicas)].url + "/v1/chat/completions",
                json=body(f"Burst {index}: say hello."),
                headers={"Authorization": f"Bearer {key}"},
            )
            for index in range(count)
        ]
        return await asyncio.gather(*calls)


def test_a_client_gets_its_limit_in_total_across_the_replicas(replicas):
    name = f"shared-limit-{secrets.token_hex(3)}"
    key = replicas[0].create_client(name, "--rpm", "12")

    replies = asyncio.run(burst(replicas, key, 30))

    statuses = sorted(reply.status_code for reply in replies)
    assert statuses.count(200) == 12
    assert statuses.count(429) == 18


def test_a_breaker_opened_through_one_replica_is_open_on_the_others(
    replicas, upstreams
):
    upstreams[0].faults({"kind": "status", "status": 503, "count": -1})

    tripping = post(replicas[0], replicas[0].key, "Trip the breaker.")
    others = [post(r, r.key, "After the trip.") for r in replicas[1:]]

    assert tripping.headers["x-tokensgate-attempts"] == (
        "anthropic:error:503,anthropic:error:503,ollama:ok"
    )
    for reply in others:
        assert reply.status_code == 200
        assert reply.headers["x-tokensgate-cb-anthropic"] == "open"
        assert reply.headers["x-tokensgate-attempts"].startswith("anthropic:skipped")
    for replica in replicas:
        health = httpx.get(replica.url + "/health", timeout=5).json()
        assert health["circuit_breakers"]["anthropic"]["state"] == "open"


def test_an_answer_cached_by_one_replica_is_a_hit_on_the_others(replicas):
    prompt = f"Cache me {secrets.token_hex(4)}."

    first = post(replicas[0], replicas[0].key, prompt)
    later = [post(r, r.key, prompt) for r in replicas[1:]]

    assert first.headers["x-cache"] == "MISS"
    assert [reply.headers["x-cache"] for reply in later] == ["HIT", "HIT"]
    assert all(r.json()["choices"] == first.json()["choices"] for r in later)


@pytest.fixture(scope="module")
def staff_session(replicas: list[LiveGateway]) -> str:
    """A staff user's session cookie, from the admin login form of one replica."""
    manage(
        "createsuperuser",
        "--noinput",
        "--username",
        STAFF_USER,
        "--email",
        "ops@example.com",
        env={**replicas[0].env, "DJANGO_SUPERUSER_PASSWORD": STAFF_PASSWORD},
    )
    with httpx.Client(base_url=replicas[1].url, timeout=10) as http:
        form = http.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        reply = http.post(
            "/admin/login/?next=/admin/",
            data={
                "username": STAFF_USER,
                "password": STAFF_PASSWORD,
                "csrfmiddlewaretoken": token.group(1),
                "next": "/admin/",
            },
        )
        assert reply.status_code == 302, reply.text[:500]
        return http.cookies["sessionid"]


def test_a_dashboard_on_one_replica_sees_requests_served_by_another(
    replicas, staff_session
):
    watched, serving = replicas[1], replicas[2]
    request_id = f"dashboard-{secrets.token_hex(4)}"
    socket_url = watched.url.replace("http://", "ws://") + "/ws/dashboard/"

    with connect(
        socket_url,
        origin=watched.url,
        additional_headers={"Cookie": f"sessionid={staff_session}"},
        open_timeout=10,
    ) as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "snapshot"
        reply = post(
            serving, serving.key, "Seen elsewhere?", **{"X-Request-ID": request_id}
        )
        assert reply.status_code == 200
        rows = rows_until(socket, request_id, timeout=10)

    assert request_id in {row["request_id"] for row in rows}


def rows_until(socket, request_id: str, *, timeout: float) -> list[dict]:
    """Request rows received until one with ``request_id`` arrives."""
    deadline = time.monotonic() + timeout
    rows: list[dict] = []
    while time.monotonic() < deadline:
        message = json.loads(socket.recv(timeout=deadline - time.monotonic()))
        if message["type"] == "requests":
            rows.extend(message["rows"])
            if any(row["request_id"] == request_id for row in rows):
                break
    return rows


def test_every_replica_writes_its_request_records_to_the_shared_database(
    replicas, database_url
):
    # Runs last in this module: it stops the replicas (a clean shutdown, which
    # flushes whatever records are still buffered).
    sent = []
    for index, replica in enumerate(replicas):
        for number in range(2):
            request_id = f"records-{index}-{number}-{secrets.token_hex(3)}"
            reply = post(
                replica, replica.key, "Keep a record.", **{"X-Request-ID": request_id}
            )
            assert reply.status_code == 200
            sent.append(request_id)

    for replica in replicas:
        assert replica.stop() == 0

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT request_id FROM monitoring_requestrecord WHERE request_id = ANY(%s)",
            [sent],
        ).fetchall()
    assert sorted(row[0] for row in rows) == sorted(sent)
