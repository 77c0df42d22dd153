"""The response cache inside the pipeline: lookups, stores and replays on both paths."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from gateway.errors import UpstreamUnavailable
from gateway.providers.base import EventStream, UpstreamReply
from gateway.services.catalog import ModelCatalog
from gateway.services.clients import ClientDirectory
from gateway.services.message_events import MessageAccumulator, replay_events
from gateway.services.pipeline import Gateway
from gateway.services.pricing import Cost
from gateway.services.response_cache import ResponseCache
from gateway.state.backend import MemoryBackend
from gateway.state.cache_store import MemoryCacheStore
from tests.services.cache_fakes import exchange, message


class FakeDispatcher:
    """Answers every call with ``answer``, slowly when ``gate`` is closed."""

    def __init__(self, answer: dict | Exception, *, cut: bool = False) -> None:
        self.answer = answer
        self.cut = cut
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()

    def breaker_states(self) -> dict[str, str]:
        return {}

    async def create(self, ex) -> UpstreamReply:
        self.calls += 1
        await self.gate.wait()
        if isinstance(self.answer, Exception):
            raise self.answer
        return UpstreamReply(self.answer, orjson.dumps(self.answer))

    async def stream(self, ex) -> EventStream:
        self.calls += 1
        events = list(replay_events(self.answer))
        if self.cut:
            events = events[:-3]

        async def produce():
            for event in events:
                yield event

        async def close() -> None:
            return None

        return EventStream(produce(), close)


def gateway(dispatcher: FakeDispatcher) -> Gateway:
    gate = Gateway(
        catalog=ModelCatalog(), clients=ClientDirectory(), dispatcher=dispatcher
    )
    store = MemoryCacheStore(
        MemoryBackend(), max_entry_bytes=1 << 20, max_bytes=1 << 24
    )
    gate.response_cache = ResponseCache(store, ttl_seconds=60, lock_seconds=5)
    return gate


async def streamed(gate: Gateway, ex) -> list:
    stream = await gate.open_stream(ex)
    return [event async for event in gate.relay(ex, stream)]


async def test_a_repeated_request_is_served_from_the_cache_at_no_cost():
    upstream = FakeDispatcher(message())
    gate = gateway(upstream)
    first, second = exchange(), exchange()

    await gate.complete(first)
    reply = await gate.complete(second)

    assert upstream.calls == 1
    assert (first.cache_status, second.cache_status) == ("MISS", "HIT")
    assert reply.message == message() and orjson.loads(reply.raw) == message()
    assert second.cost == Cost() and second.cost_avoided_nanos > 0
    assert first.cost.total_nanos > 0


async def test_a_streamed_answer_is_stored_and_replayed_with_the_same_text_and_tools():
    upstream = FakeDispatcher(message())
    gate = gateway(upstream)
    live = await streamed(gate, exchange(stream=True))
    replayed_exchange = exchange(stream=True)
    replayed = await streamed(gate, replayed_exchange)

    assert upstream.calls == 1
    assert replayed_exchange.cache_status == "HIT"
    assert [e.raw for e in replayed] == [e.raw for e in live]
    assert replayed_exchange.cost == Cost() and replayed_exchange.settled


async def test_a_streamed_answer_serves_a_later_non_streamed_request_and_back():
    upstream = FakeDispatcher(message())
    gate = gateway(upstream)
    await streamed(gate, exchange(stream=True))

    reply = await gate.complete(exchange())
    assert reply.message == message() and upstream.calls == 1

    accumulator = MessageAccumulator()
    for event in await streamed(gate, exchange(stream=True)):
        accumulator.observe(event)
    assert accumulator.result() == message()


async def test_a_truncated_stream_is_not_stored():
    upstream = FakeDispatcher(message(), cut=True)
    gate = gateway(upstream)
    first = exchange(stream=True)
    events = await streamed(gate, first)

    assert events[-1].name == "error"
    second = exchange(stream=True)
    await streamed(gate, second)
    assert upstream.calls == 2 and second.cache_status == "MISS"


async def test_an_upstream_error_is_not_stored():
    upstream = FakeDispatcher(UpstreamUnavailable(upstream_status=529))
    gate = gateway(upstream)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await gate.complete(exchange())

    assert upstream.calls == 2


async def test_concurrent_identical_requests_make_one_upstream_call():
    upstream = FakeDispatcher(message())
    upstream.gate.clear()
    gate = gateway(upstream)
    exchanges = [exchange() for _ in range(6)]

    tasks = [asyncio.create_task(gate.complete(ex)) for ex in exchanges]
    await asyncio.sleep(0.01)
    upstream.gate.set()
    replies = await asyncio.gather(*tasks)

    assert upstream.calls == 1
    assert all(reply.message == message() for reply in replies)
    assert sorted(ex.cache_status for ex in exchanges) == ["HIT"] * 5 + ["MISS"]


async def test_followers_of_a_failed_call_try_upstream_themselves():
    upstream = FakeDispatcher(UpstreamUnavailable(upstream_status=529))
    upstream.gate.clear()
    gate = gateway(upstream)

    tasks = [asyncio.create_task(gate.complete(exchange())) for _ in range(3)]
    await asyncio.sleep(0.01)
    upstream.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert all(isinstance(result, UpstreamUnavailable) for result in results)
    assert upstream.calls == 3
