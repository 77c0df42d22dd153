"""A live gateway: /metrics and request records agree with what clients saw.

The gateway runs with ``RECORD_FLUSH_SECONDS`` far beyond the test's length,
so every record is still buffered when the gateway gets SIGTERM: the records
found afterwards were written by the exit flush.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.live import (
    PYTHON,
    LiveGateway,
    StandIn,
    free_port,
    gateway_env,
    manage,
    start_gateway,
)

pytestmark = pytest.mark.live


@dataclass
class Sent:
    """What the clients saw, to compare with what the gateway counted."""

    request_ids: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    prompt_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)

    def note(self, request_id: str, status: int) -> None:
        self.request_ids.append(request_id)
        self.statuses.append(status)


@pytest.fixture(scope="module")
def gateway(live_dir: Path, standin: StandIn, ollama_standin: StandIn):
    env = gateway_env(
        live_dir / "metrics",
        anthropic_url=standin.url,
        ollama_url=ollama_standin.url,
        RECORD_FLUSH_SECONDS="3600",
        MAX_RETRIES="0",
    )
    server = start_gateway(live_dir / "metrics", env, name="metrics")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sent(gateway: LiveGateway, standin: StandIn, ollama_standin: StandIn) -> Sent:
    standin.reset()
    ollama_standin.reset()
    client = openai.OpenAI(
        base_url=gateway.url + "/v1", api_key=gateway.key, max_retries=0
    )
    sent = Sent()
    for index in range(4):
        complete(client, sent, f"Question number {index}: name a colour.")
    stream(client, sent, "Tell me about rivers, briefly.")
    messages_surface(gateway, sent, "Anthropic surface question.")

    standin.faults({"kind": "status", "status": 400, "count": 1})
    complete(client, sent, "This one is refused upstream.")
    standin.reset()

    limited = openai.OpenAI(
        base_url=gateway.url + "/v1",
        max_retries=0,
        api_key=gateway.create_client("metrics-limited", "--rpm", "1"),
    )
    complete(limited, sent, "The first request of a one-a-minute client.")
    complete(limited, sent, "Its second, refused by the gateway's limit.")
    return sent


def complete(client: openai.OpenAI, sent: Sent, prompt: str) -> None:
    try:
        raw = client.chat.completions.with_raw_response.create(
            model="claude-haiku-4-5",
            max_tokens=50,
            messages=[{"role": "user", "content": prompt}],
        )
    except openai.APIStatusError as exc:
        sent.note(exc.response.headers["x-request-id"], exc.status_code)
        return

    completion = raw.parse()
    sent.note(raw.headers["x-request-id"], raw.status_code)
    sent.prompt_tokens += completion.usage.prompt_tokens
    sent.output_tokens += completion.usage.completion_tokens
    sent.cost += Decimal(str(completion.model_extra["cost"]["total_cost"]))


def stream(client: openai.OpenAI, sent: Sent, prompt: str) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="claude-haiku-4-5",
        max_tokens=50,
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": prompt}],
    )
    for chunk in raw.parse():
        if chunk.usage is not None:
            sent.prompt_tokens += chunk.usage.prompt_tokens
            sent.output_tokens += chunk.usage.completion_tokens
            sent.cost += Decimal(str(chunk.model_extra["cost"]["total_cost"]))
    sent.note(raw.headers["x-request-id"], raw.status_code)


def messages_surface(gateway: LiveGateway, sent: Sent, prompt: str) -> None:
    response = httpx.post(
        gateway.url + "/v1/messages",
        headers={"x-api-key": gateway.key, "anthropic-version": "2023-06-01"},
        json={
            "model": "claude-haiku-4-5",
            "max_tokens": 50,
            "messages": [{"role": "user", "content": prompt}],
        },
        timeout=30,
    )
    usage = response.json()["usage"]
    sent.note(response.headers["x-request-id"], response.status_code)
    sent.prompt_tokens += (
        usage["input_tokens"]
        + usage.get("cache_read_input_tokens", 0)
        + usage.get("cache_creation_input_tokens", 0)
    )
    sent.output_tokens += usage["output_tokens"]


def settled_metrics(gateway: LiveGateway, expected_requests: int) -> dict:
    """/metrics once every request has settled (a stream settles after its end)."""
    deadline = time.monotonic() + 10
    while True:
        metrics = httpx.get(gateway.url + "/metrics", timeout=10).json()
        if (
            metrics["total_requests"] >= expected_requests
            or time.monotonic() > deadline
        ):
            return metrics
        time.sleep(0.05)


def test_metrics_json_counts_what_clients_sent(
    gateway: LiveGateway, sent: Sent
) -> None:
    metrics = settled_metrics(gateway, len(sent.statuses))

    assert metrics["total_requests"] == len(sent.statuses) == 9
    assert metrics["total_errors"] == sum(s >= 400 for s in sent.statuses) == 2
    assert metrics["rate_limited"] == sent.statuses.count(429) == 1
    counted_prompt = (
        metrics["total_input_tokens"]
        + metrics["total_cached_tokens"]
        + metrics["total_cache_write_tokens"]
    )
    assert counted_prompt == sent.prompt_tokens
    assert metrics["total_output_tokens"] == sent.output_tokens
    # The Anthropic surface's reply carries no cost object, so it is
    # compared through the records below; here the OpenAI ones set a floor.
    assert Decimal(str(metrics["total_cost"])) >= sent.cost > 0
    assert metrics["counters_scope"] == "process"
    assert metrics["average_response_time_ms"] > 0
    assert metrics["latency_percentiles_ms"]["p50"] > 0


def test_prometheus_text_parses_and_matches_the_json(
    gateway: LiveGateway, sent: Sent
) -> None:
    metrics = settled_metrics(gateway, len(sent.statuses))
    response = httpx.get(
        gateway.url + "/metrics",
        timeout=10,
        headers={"Accept": "text/plain;version=0.0.4"},
    )

    families = {f.name: f for f in text_string_to_metric_families(response.text)}

    requests = families["tokensgate_requests"].samples
    assert sum(s.value for s in requests) == metrics["total_requests"]
    assert {s.labels["surface"] for s in requests} == {"openai", "anthropic"}
    assert sum(s.value for s in requests if s.labels["status"] == "400") == 1
    assert next(iter(families["tokensgate_rate_limited"].samples)).value == 1
    histogram = families["tokensgate_request_duration_seconds"].samples
    count = next(s.value for s in histogram if s.name.endswith("_count"))
    assert count == metrics["total_requests"]
    cost = sum(s.value for s in families["tokensgate_cost_usd"].samples)
    assert cost == pytest.approx(metrics["total_cost"], abs=1e-9)
    states = families["tokensgate_circuit_breaker_state"].samples
    assert {s.labels["target"] for s in states} >= {"anthropic", "ollama"}


def test_every_answered_request_has_its_record_after_sigterm(
    gateway: LiveGateway, sent: Sent
) -> None:
    metrics = settled_metrics(gateway, len(sent.statuses))

    assert gateway.stop() == 0
    rows = read_records(Path(gateway.env["SQLITE_PATH"]))

    assert sorted(row["request_id"] for row in rows) == sorted(sent.request_ids)
    assert sorted(row["status"] for row in rows) == sorted(sent.statuses)
    assert sum(row["output_tokens"] for row in rows) == metrics["total_output_tokens"]
    assert sum(row["input_tokens"] for row in rows) == metrics["total_input_tokens"]
    total_cost = sum(Decimal(row["cost_usd"]) for row in rows)
    assert float(total_cost) == pytest.approx(metrics["total_cost"], abs=1e-9)
    assert "request records flushed at exit" in gateway.log_text()


def test_uvicorn_flushes_records_on_sigterm_through_lifespan(
    live_dir: Path, standin: StandIn, ollama_standin: StandIn
) -> None:
    # uvicorn re-raises the SIGTERM it handled, so the process dies of it and
    # atexit never runs: only the lifespan shutdown can flush.
    folder = live_dir / "uvicorn"
    folder.mkdir(exist_ok=True)
    env = gateway_env(
        folder,
        anthropic_url=standin.url,
        ollama_url=ollama_standin.url,
        RECORD_FLUSH_SECONDS="3600",
    )
    manage("migrate", "-v0", env=env)
    port = free_port()
    server = LiveGateway(
        name="uvicorn",
        port=port,
        log_path=folder / "uvicorn.log",
        env=env,
        command=[
            PYTHON,
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "tokensgate_site.asgi:application",
        ],
    )
    server.key = server.create_client("tests-uvicorn")
    server.start()
    client = openai.OpenAI(
        base_url=server.url + "/v1", api_key=server.key, max_retries=0
    )
    ids = []
    for index in range(3):
        raw = client.chat.completions.with_raw_response.create(
            model="claude-haiku-4-5",
            max_tokens=20,
            messages=[{"role": "user", "content": f"uvicorn question {index}"}],
        )
        ids.append(raw.headers["x-request-id"])

    server.stop()

    rows = read_records(Path(env["SQLITE_PATH"]))
    assert sorted(row["request_id"] for row in rows) == sorted(ids)
    assert "request records flushed at shutdown" in server.log_text()


def read_records(path: Path) -> list[dict]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT request_id, status, input_tokens, output_tokens,"
            " CAST(cost_usd AS TEXT) AS cost_usd FROM monitoring_requestrecord"
        ).fetchall()
    return [dict(row) for row in rows]
