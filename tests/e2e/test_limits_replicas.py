"""Limits shared by three gateway processes through one real ``redis-server``.

The replicas share one SQLite file (they only read clients from it) and their
own Redis, so no other test's clients share their limit keys.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live import LiveGateway, StandIn, gateway_env, start_gateway, start_redis

pytestmark = pytest.mark.live

REPLICAS = 3
BODY = {
    "model": "claude-haiku-4-5",
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "Say hello."}],
}


@pytest.fixture(scope="module")
def replicas(
    live_dir: Path, standin: StandIn, ollama_standin: StandIn
) -> Iterator[list[LiveGateway]]:
    folder = live_dir / "replicas"
    folder.mkdir(exist_ok=True)
    redis = start_redis(folder, "replicas-redis")
    env = gateway_env(
        folder,
        anthropic_url=standin.url,
        ollama_url=ollama_standin.url,
        REDIS_URL=f"redis://127.0.0.1:{redis.port}/0",
        # A burst of 300 requests saturates this machine's two cores, and Redis,
        # starved of CPU, then really answers later than the default 0.1 s: the
        # calls that timed out would be limited in process, so exactness is
        # only testable with a deadline the machine can meet.
        REDIS_TIMEOUT_SECONDS="1",
    )
    servers = [
        start_gateway(folder, env, name=f"replica-{index}") for index in range(REPLICAS)
    ]
    yield servers
    for server in servers:
        server.stop()
    redis.stop()


def new_client(replicas: list[LiveGateway], *args: str) -> tuple[str, str]:
    name = f"replicas-{secrets.token_hex(4)}"
    return name, replicas[0].create_client(name, *args)


async def burst(
    replicas: list[LiveGateway], key: str, count: int
) -> list[httpx.Response]:
    """``count`` requests at once, spread evenly over the replicas."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    # Every request must reach the upstream: a cached answer costs nothing.
    headers = {"Authorization": f"Bearer {key}", "Cache-Control": "no-cache"}
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        return await asyncio.gather(
            *(
                http.post(
                    replicas[index % len(replicas)].url + "/v1/chat/completions",
                    json=BODY,
                    headers=headers,
                )
                for index in range(count)
            )
        )


def window_empty_in(responses: list[httpx.Response]) -> int:
    return max(
        int(response.headers["X-RateLimit-Reset-Requests"].rstrip("s"))
        for response in responses
    )


def statuses(responses: list[httpx.Response]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for response in responses:
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
    return counts


async def test_a_request_waiting_its_retry_after_is_admitted(
    replicas: list[LiveGateway], upstreams
):
    _, key = new_client(replicas, "--rpm", "2")
    await burst(replicas[:1], key, 2)
    refused = (await burst(replicas[1:2], key, 1))[0]
    assert refused.status_code == 429
    received = time.monotonic()

    wait = int(refused.headers["Retry-After"])
    # Retry-After is rounded up to whole seconds, and on a loaded machine each
    # answer can take a few hundred ms: 3 s early is surely still refused.
    await asyncio.sleep(max(wait - 3 - (time.monotonic() - received), 0))
    assert (await burst(replicas[2:], key, 1))[0].status_code == 429
    await asyncio.sleep(wait - (time.monotonic() - received))
    assert (await burst(replicas[2:], key, 1))[0].status_code == 200


async def test_concurrent_requests_do_not_overrun_a_budget(
    replicas: list[LiveGateway], upstreams
):
    name, key = new_client(replicas)
    budget = 0.001
    replicas[0].manage(
        "shell",
        "-c",
        "from decimal import Decimal\nfrom gateway.models import ApiClient\n"
        f"ApiClient.objects.filter(name={name!r})"
        f".update(daily_budget_usd=Decimal('{budget}'))",
    )

    spent, refusals = 0.0, []
    for _ in range(30):
        responses = await burst(replicas, key, 60)
        spent += sum(
            r.json()["cost"]["total_cost"] for r in responses if r.status_code == 200
        )
        refusals = [r for r in responses if r.status_code == 429]
        if len(refusals) == len(responses) and "is spent" in refusals[0].text:
            break

    assert refusals and all(
        r.json()["error"]["code"] == "daily_budget_exceeded" for r in refusals
    )
    # The worst case of one request of BODY on Haiku ($1 / $5 per million
    # tokens), with a generous allowance for the prompt's estimate.
    worst_single = (20 * 1 + BODY["max_tokens"] * 5) / 1_000_000
    assert budget <= spent < budget + worst_single


# TODO: with the state store's 100 ms Redis connect and command timeouts, a
# burst of 300 requests on a 2-core machine delays each gateway's event loop
# past the timeout although Redis answers in microseconds; the Redis guard then
# switches the replicas to per-process limits and up to 180 are admitted. The
# burst tests pass with 2 s timeouts. Timeouts in gateway/state/backend.py must
# not count the event loop's own lag as Redis being slow. This test runs last
# so that the fallback it triggers does not leak into the others.
async def test_concurrent_requests_admit_exactly_the_limit_again_and_again(
    replicas: list[LiveGateway], upstreams
):
    _, key = new_client(replicas, "--rpm", "60")

    for round_number in range(2):
        started = time.monotonic()
        responses = await burst(replicas, key, 300)
        finished = time.monotonic()

        assert statuses(responses) == {200: 60, 429: 240}, f"round {round_number}"
        refused = [r for r in responses if r.status_code == 429]
        waits = [int(r.headers["Retry-After"]) for r in refused]
        # The oldest admission is at most one burst old when a refusal is made.
        assert all(60 - (finished - started) - 1 <= wait <= 60 for wait in waits)
        for response in refused:
            assert response.headers["X-RateLimit-Limit-Requests"] == "60"
            assert response.headers["X-RateLimit-Remaining-Requests"] == "0"
            assert response.json()["error"]["code"] == "requests_per_minute_exceeded"

        # Once the window has emptied, the same 300 requests must again
        # admit exactly 60.
        if round_number == 0:
            await asyncio.sleep(
                window_empty_in(responses) - (time.monotonic() - finished)
            )
