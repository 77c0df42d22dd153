"""Scripted fake providers and exchanges for the dispatcher's tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import orjson

from gateway.conf import GatewayConfig, config
from gateway.providers.base import EventStream, Provider, UpstreamCall, UpstreamReply
from gateway.services.clients import ClientProfile
from gateway.services.exchange import Exchange
from gateway.sse import SSEEvent, encode_event

CLIENT = ClientProfile(
    id=1,
    name="tests",
    key_prefix="tg_test",
    requests_per_minute=100,
    tokens_per_minute=100_000,
    daily_budget_usd=None,
    monthly_budget_usd=None,
    max_concurrent_requests=None,
    cache_scope="client:1",
    optimization_mode="safe",
)

OK = "ok"
HANG = "hang"


def settings(**overrides: object) -> GatewayConfig:
    base = {
        "MAX_RETRIES": 2,
        "REQUEST_DEADLINE_SECONDS": 300.0,
        "CIRCUIT_BREAKER_ENABLED": True,
        "CB_FAILURE_THRESHOLD": 5,
        "CB_WINDOW_SECONDS": 30.0,
        "CB_COOLDOWN_SECONDS": 60.0,
        "OLLAMA_MODEL": "llama3.2:1b",
        "OLLAMA_CONTEXT_TOKENS": 8192,
    }
    return replace(config(), **{**base, **overrides})


def exchange(*, stream: bool = False, started: float = 0.0, body: dict | None = None):
    return Exchange(
        request_id="req-1",
        surface="openai",
        client=CLIENT,
        stream=stream,
        started=started,
        body=body
        or {
            "model": "claude-haiku-4-5-20251001",
            "max_tokens": 100,
            "system": [
                {
                    "type": "text",
                    "text": "Be brief.",
                    "cache_control": {"type": "ephemeral"},
                }
            ],
            "messages": [{"role": "user", "content": "hi"}],
        },
    )


def event(name: str, payload: dict) -> SSEEvent:
    return SSEEvent(
        name=name, data=orjson.dumps(payload), raw=encode_event(name, payload)
    )


def message_events(model: str, *, error: object = None, cut: bool = False) -> list:
    """A short Anthropic stream; ``error`` replaces its end, ``cut`` drops it."""
    events: list = [
        event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "model": model,
                    "usage": {"input_tokens": 3, "output_tokens": 1},
                },
            },
        ),
        event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "hi"},
            },
        ),
    ]
    if error is not None:
        return [*events, error]
    if cut:
        return events
    return [
        *events,
        event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        event(
            "message_delta",
            {
                "type": "message_delta",
                "usage": {"output_tokens": 2},
                "delta": {"stop_reason": "end_turn"},
            },
        ),
        event("message_stop", {"type": "message_stop"}),
    ]


class ScriptedProvider(Provider):
    """Each call takes the next outcome: ``OK``, ``HANG`` or an exception to raise.

    When the script runs out, the last outcome repeats. A stream outcome may
    also be a list of events (an exception in it is raised mid-stream).
    """

    def __init__(self, name: str, *outcomes: object, configured: bool = True) -> None:
        self.name = name
        self.outcomes = list(outcomes) or [OK]
        self.configured = configured
        self.calls: list[UpstreamCall] = []
        self.closed = 0

    def _next(self) -> object:
        return self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]

    async def _begin(self, call: UpstreamCall) -> object:
        self.calls.append(call)
        outcome = self._next()
        if outcome == HANG:
            await asyncio.Event().wait()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def create(self, call: UpstreamCall) -> UpstreamReply:
        await self._begin(call)
        message = {
            "type": "message",
            "model": call.body["model"],
            "content": [],
            "usage": {"input_tokens": 3, "output_tokens": 2},
        }
        return UpstreamReply(message=message, raw=orjson.dumps(message))

    async def stream(self, call: UpstreamCall) -> EventStream:
        outcome = await self._begin(call)
        events = (
            outcome if isinstance(outcome, list) else message_events(call.body["model"])
        )
        iterator = _replay(events)
        first = await anext(iterator)

        async def close() -> None:
            self.closed += 1

        return EventStream(iterator, close, first=first)

    async def count_tokens(self, call: UpstreamCall) -> dict:
        return {"input_tokens": 1}

    def is_configured(self) -> bool:
        return self.configured


async def _replay(events: list) -> AsyncIterator[SSEEvent]:
    for item in events:
        if isinstance(item, BaseException):
            raise item
        yield item


class FakeTime:
    """A clock the injected ``sleep`` moves forward; sleeps are remembered."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
