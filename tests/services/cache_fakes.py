"""Models, clients, exchanges and messages for the cache, cost and optimiser tests."""

from __future__ import annotations

import asyncio
import copy

from gateway.services.catalog import ModelInfo
from gateway.services.clients import ClientProfile
from gateway.services.exchange import Exchange
from gateway.services.response_cache import ResponseCache
from gateway.state.cache_store import MemoryCacheStore
from tests.model_fixtures import HAIKU, SONNET  # noqa: F401 - shared by the cache tests


def client(client_id: int = 1, *, scope: str | None = None, mode: str = "safe"):
    return ClientProfile(
        id=client_id,
        name=f"client-{client_id}",
        key_prefix="tg_test",
        requests_per_minute=100,
        tokens_per_minute=100_000,
        daily_budget_usd=None,
        monthly_budget_usd=None,
        max_concurrent_requests=None,
        cache_scope=scope or f"client:{client_id}",
        optimization_mode=mode,
    )


BODY = {
    "model": SONNET.model_id,
    "max_tokens": 256,
    "system": [{"type": "text", "text": "You are terse."}],
    "messages": [{"role": "user", "content": "What is 2 + 2?"}],
}

MESSAGE = {
    "id": "msg_01abc",
    "type": "message",
    "role": "assistant",
    "model": SONNET.model_id,
    "content": [
        {"type": "text", "text": "Let me check."},
        {
            "type": "tool_use",
            "id": "toolu_01",
            "name": "calculator",
            "input": {"expression": "2 + 2", "options": {"exact": True}},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 20,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 30,
    },
}


def exchange(
    body: dict | None = None,
    *,
    who: ClientProfile | None = None,
    model: ModelInfo = SONNET,
    stream: bool = False,
    cache_control: str = "",
    beta: str | None = None,
    optimize: str | None = None,
) -> Exchange:
    made = Exchange(
        request_id="req-test",
        surface="anthropic",
        client=who or client(),
        body=copy.deepcopy(body if body is not None else BODY),
        stream=stream,
        cache_control_header=cache_control,
        anthropic_beta=beta,
        optimize_header=optimize,
        raw_body=b"{}",
    )
    made.model = model
    return made


def message(**changes: object) -> dict:
    made = copy.deepcopy(MESSAGE)
    made.update(changes)
    return made


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Replica:
    """One process's response cache over a store that may be shared."""

    def __init__(
        self, store: MemoryCacheStore, clock: FakeClock, lock_seconds: float = 5
    ):
        self.clock = clock
        self.sleeps: list[float] = []
        self.cache = ResponseCache(
            store,
            ttl_seconds=60,
            lock_seconds=lock_seconds,
            sleep=self._sleep,
            clock=clock,
        )

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.now += seconds
        await asyncio.sleep(0)
