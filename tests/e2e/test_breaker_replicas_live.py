"""Three gateway processes sharing their breakers through one real redis-server."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from tests.live import LiveGateway, StandIn, gateway_env, start_gateway

pytestmark = pytest.mark.live

# Long enough that three requests on a busy machine all fall inside it.
COOLDOWN = 8.0
PROMPT = [{"role": "user", "content": "Name three prime numbers."}]


@pytest.fixture(scope="module")
def replicas(live_dir: Path, standin: StandIn, ollama_standin: StandIn, redis_server):
    servers: list[LiveGateway] = []
    try:
        for index in range(3):
            env = gateway_env(
                live_dir / f"replica{index}",
                anthropic_url=standin.url,
                ollama_url=ollama_standin.url,
                REDIS_URL=f"redis://127.0.0.1:{redis_server.port}/0",
                CB_FAILURE_THRESHOLD="2",
                CB_COOLDOWN_SECONDS=str(COOLDOWN),
                MAX_RETRIES="1",
                CACHE_ENABLED="false",
            )
            servers.append(
                start_gateway(live_dir / f"replica{index}", env, name=f"replica{index}")
            )
        yield servers
        # Leave the shared Redis with closed breakers for other test modules.
        servers[0].manage("reset_breakers")
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(autouse=True)
def closed_breakers(replicas, upstreams):
    replicas[0].manage("reset_breakers")
    # A first request warms each replica up (catalog, keys, connections), so
    # the timed requests of the tests are quick.
    for replica in replicas:
        attempts(replica)
    upstreams[0].reset()


def attempts(gateway: LiveGateway) -> str:
    client = openai.OpenAI(
        base_url=gateway.url + "/v1", api_key=gateway.key, max_retries=0
    )
    raw = client.chat.completions.with_raw_response.create(
        model="claude-haiku-4-5", messages=PROMPT, max_tokens=50
    )
    raw.parse()
    return raw.headers["x-tokensgate-attempts"]


def breaker(gateway: LiveGateway) -> dict:
    health = httpx.get(gateway.url + "/health", timeout=5).json()
    return health["circuit_breakers"]["anthropic"]


def test_a_breaker_opened_through_one_replica_is_open_on_all(replicas, upstreams):
    upstreams[0].faults({"kind": "status", "status": 503, "count": -1})

    first = attempts(replicas[0])
    others = [attempts(replica) for replica in replicas[1:]]

    assert first == "anthropic:error:503,anthropic:error:503,ollama:ok"
    assert others == ["anthropic:skipped:open,ollama:ok"] * 2
    assert {breaker(replica)["state"] for replica in replicas} == {"open"}
    assert upstreams[0].stats()["anthropic_requests"] == 2


def test_one_canary_in_total_goes_upstream_per_cooldown(replicas, upstreams):
    anthropic = upstreams[0]
    anthropic.faults({"kind": "status", "status": 503, "count": -1})
    attempts(replicas[0])
    calls_before = anthropic.stats()["anthropic_requests"]
    time.sleep(COOLDOWN + 0.2)

    targets = [replicas[i % 3] for i in range(12)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(attempts, targets))

    assert anthropic.stats()["anthropic_requests"] - calls_before == 1
    assert sum(r.startswith("anthropic:error:503") for r in results) == 1
    assert all(r.endswith("ollama:ok") for r in results)


def test_reset_breakers_closes_the_breaker_on_every_replica(replicas, upstreams):
    upstreams[0].faults({"kind": "status", "status": 503, "count": -1})
    attempts(replicas[1])
    upstreams[0].reset()

    output = replicas[0].manage("reset_breakers", "--target", "anthropic")

    # The command may start after the cooldown, when the breaker reads half_open.
    assert re.fullmatch(r"anthropic: (open|half_open) -> closed", output.strip())
    assert [attempts(replica) for replica in replicas] == ["anthropic:ok"] * 3
    assert breaker(replicas[2])["total_trips"] >= 1
