"""The dispatcher: retries, backoff, deadline, budget, breakers and failover.

Providers are scripted fakes; time is a fake clock moved by the injected
sleep, and the breakers' store reads another fake clock.
"""

from __future__ import annotations

import asyncio

import pytest

from gateway.errors import (
    StreamInterrupted,
    UpstreamMisconfigured,
    UpstreamRejected,
    UpstreamUnavailable,
)
from gateway.services.breaker import CircuitBreaker, breaker_policy
from gateway.services.dispatch import Dispatcher
from gateway.services.retry import RetryBudget
from gateway.state.backend import MemoryBackend
from gateway.state.breaker_store import MemoryBreakerStore
from tests.services.fakes_upstream import (
    HANG,
    OK,
    FakeTime,
    ScriptedProvider,
    event,
    exchange,
    message_events,
    settings,
)


def overloaded(retry_after: float | None = None) -> UpstreamUnavailable:
    return UpstreamUnavailable(upstream_status=529, retry_after=retry_after)


def unavailable() -> UpstreamUnavailable:
    return UpstreamUnavailable(upstream_status=503)


class Rig:
    """A dispatcher over two scripted providers, with fake time everywhere."""

    def __init__(self, anthropic, ollama=None, *, budget=None, jitter=1.0, **overrides):
        self.time = FakeTime()
        self.breaker_clock = [0.0]
        self.anthropic = anthropic
        self.ollama = ScriptedProvider("ollama", OK) if ollama is None else ollama
        self.settings = settings(**overrides)
        store = MemoryBreakerStore(MemoryBackend(clock=lambda: self.breaker_clock[0]))
        self.breaker = CircuitBreaker(
            store,
            breaker_policy(self.settings),
            enabled=self.settings.CIRCUIT_BREAKER_ENABLED,
        )
        self.changes: list[tuple[str, str, str]] = []
        self.breaker.listeners.append(lambda *change: self.changes.append(change))
        providers = {"anthropic": self.anthropic}
        if self.ollama is not False:
            providers["ollama"] = self.ollama
        self.dispatcher = Dispatcher(
            providers,
            breaker=self.breaker,
            settings=self.settings,
            budget=budget or RetryBudget(),
            sleep=self.time.sleep,
            clock=self.time.clock,
            jitter=lambda: jitter,
        )

    async def create(self, **kwargs):
        ex = exchange(started=self.time.now, **kwargs)
        reply = await self.dispatcher.create(ex)
        return ex, reply

    async def failures(self, target: str = "anthropic") -> int:
        return (await self.breaker.snapshot(target)).failures_in_window


async def test_a_first_success_notes_one_attempt():
    rig = Rig(ScriptedProvider("anthropic", OK))

    ex, _ = await rig.create()

    assert ex.attempts == ["anthropic:ok"]
    assert (ex.provider, ex.fallback) == ("anthropic", False)
    assert rig.time.sleeps == []


async def test_retryable_failures_are_retried_with_capped_exponential_backoff():
    rig = Rig(ScriptedProvider("anthropic", unavailable(), unavailable(), OK))

    ex, _ = await rig.create()

    assert ex.attempts == ["anthropic:error:503", "anthropic:error:503", "anthropic:ok"]
    assert rig.time.sleeps == [0.25, 0.5]


async def test_backoff_has_full_jitter():
    rig = Rig(ScriptedProvider("anthropic", unavailable(), OK), jitter=0.5)

    await rig.create()

    assert rig.time.sleeps == [0.125]


async def test_a_retry_waits_at_least_the_upstream_retry_after():
    rig = Rig(ScriptedProvider("anthropic", overloaded(retry_after=3), OK))

    ex, _ = await rig.create()

    assert rig.time.sleeps == [3]
    assert ex.attempts == ["anthropic:error:529", "anthropic:ok"]


async def test_a_long_retry_after_fails_over_instead_of_waiting():
    rig = Rig(ScriptedProvider("anthropic", overloaded(retry_after=30)))

    ex, _ = await rig.create()

    assert rig.time.sleeps == []
    assert ex.attempts == ["anthropic:error:529", "ollama:ok"]


async def test_a_retry_after_past_the_deadline_fails_over_at_once():
    rig = Rig(
        ScriptedProvider("anthropic", overloaded(retry_after=5)),
        REQUEST_DEADLINE_SECONDS=4.0,
    )

    ex, _ = await rig.create()

    assert rig.time.sleeps == []
    assert ex.attempts == ["anthropic:error:529", "ollama:ok"]


async def test_the_deadline_stops_retries():
    rig = Rig(
        ScriptedProvider("anthropic", unavailable()),
        MAX_RETRIES=10,
        REQUEST_DEADLINE_SECONDS=2.0,
    )

    ex, _ = await rig.create()

    # 0.25 + 0.5 + 1.0 fit in two seconds; the next 2.0 s wait would not.
    assert rig.time.sleeps == [0.25, 0.5, 1.0]
    assert ex.attempts[-1] == "ollama:ok"
    assert ex.attempts.count("anthropic:error:503") == 4


async def test_an_attempt_that_hangs_is_cut_at_the_deadline():
    rig = Rig(ScriptedProvider("anthropic", HANG), REQUEST_DEADLINE_SECONDS=0.05)
    rig.dispatcher.clock = asyncio.get_running_loop().time

    ex = exchange(started=asyncio.get_running_loop().time())
    await rig.dispatcher.create(ex)

    assert ex.attempts == ["anthropic:error:504", "ollama:ok"]


async def test_the_retry_budget_keeps_retries_to_a_fifth_of_requests():
    rig = Rig(
        ScriptedProvider("anthropic", unavailable()),
        MAX_RETRIES=3,
        CIRCUIT_BREAKER_ENABLED=False,
        budget=RetryBudget(ratio=0.2, reserve=2),
    )

    for _ in range(50):
        await rig.create()

    retries = len(rig.anthropic.calls) - 50
    assert 0 < retries <= 0.2 * 50 + 2


async def test_a_callers_4xx_is_not_retried_not_counted_and_not_failed_over():
    rejected = UpstreamRejected(
        "bad", status=400, anthropic_type="invalid_request_error"
    )
    rig = Rig(ScriptedProvider("anthropic", rejected))

    with pytest.raises(UpstreamRejected):
        await rig.create()

    assert len(rig.anthropic.calls) == 1
    assert rig.ollama.calls == []
    assert await rig.failures() == 0


async def test_refused_credentials_are_not_retried_nor_counted_but_fail_over():
    rig = Rig(ScriptedProvider("anthropic", UpstreamMisconfigured(upstream_status=401)))

    ex, _ = await rig.create()

    assert ex.attempts == ["anthropic:error:401", "ollama:ok"]
    assert await rig.failures() == 0


async def test_failover_uses_the_free_local_model_with_an_adapted_request():
    rig = Rig(ScriptedProvider("anthropic", unavailable()), MAX_RETRIES=0)

    ex, _ = await rig.create()

    sent = rig.ollama.calls[0].body
    assert (ex.provider, ex.fallback) == ("ollama", True)
    assert ex.model.model_id == "llama3.2:1b" and ex.model.output_price == 0
    assert sent["model"] == "llama3.2:1b"
    assert "cache_control" not in sent["system"][0]
    assert ex.body["model"] == "claude-haiku-4-5-20251001"


async def test_without_a_claude_key_requests_go_straight_to_the_fallback():
    rig = Rig(ScriptedProvider("anthropic", OK, configured=False))

    ex, _ = await rig.create()

    assert ex.attempts == ["anthropic:skipped:not_configured", "ollama:ok"]
    assert rig.anthropic.calls == []


async def test_an_open_breaker_skips_anthropic_and_publishes_the_change():
    rig = Rig(
        ScriptedProvider("anthropic", unavailable()),
        MAX_RETRIES=0,
        CB_FAILURE_THRESHOLD=2,
    )

    await rig.create()
    await rig.create()
    ex, _ = await rig.create()

    assert ex.attempts == ["anthropic:skipped:open", "ollama:ok"]
    assert len(rig.anthropic.calls) == 2
    assert rig.changes == [("anthropic", "closed", "open")]
    assert rig.dispatcher.breaker_states() == {"anthropic": "open", "ollama": "closed"}


async def test_retries_stop_once_the_breaker_opens():
    rig = Rig(
        ScriptedProvider("anthropic", unavailable()),
        MAX_RETRIES=5,
        CB_FAILURE_THRESHOLD=2,
    )

    ex, _ = await rig.create()

    assert ex.attempts == [
        "anthropic:error:503",
        "anthropic:error:503",
        "anthropic:skipped:open",
        "ollama:ok",
    ]


async def test_after_the_cooldown_one_canary_closes_the_breaker():
    rig = Rig(
        ScriptedProvider("anthropic", unavailable(), OK),
        MAX_RETRIES=0,
        CB_FAILURE_THRESHOLD=1,
    )
    await rig.create()
    rig.breaker_clock[0] += 61

    ex, _ = await rig.create()

    assert ex.attempts == ["anthropic:ok"]
    assert rig.changes == [
        ("anthropic", "closed", "open"),
        ("anthropic", "open", "half_open"),
        ("anthropic", "half_open", "closed"),
    ]


async def test_every_target_down_is_a_503_with_retry_after():
    rig = Rig(
        ScriptedProvider("anthropic", unavailable()),
        ScriptedProvider("ollama", UpstreamUnavailable("down")),
        MAX_RETRIES=0,
    )

    with pytest.raises(UpstreamUnavailable) as caught:
        await rig.create()

    assert caught.value.status == 503
    assert caught.value.headers["Retry-After"] == "1"
    assert await rig.failures("ollama") == 1


async def test_an_open_breaker_without_fallback_is_a_503_with_the_cooldown():
    rig = Rig(
        ScriptedProvider("anthropic", unavailable()),
        ollama=False,
        MAX_RETRIES=0,
        CB_FAILURE_THRESHOLD=1,
    )
    with pytest.raises(UpstreamUnavailable):
        await rig.create()

    with pytest.raises(UpstreamUnavailable) as caught:
        await rig.create()

    assert caught.value.status == 503
    assert caught.value.headers["Retry-After"] == "60"


async def test_without_fallback_anthropics_own_error_comes_back():
    rig = Rig(
        ScriptedProvider("anthropic", overloaded(retry_after=2)),
        ollama=False,
        MAX_RETRIES=0,
    )

    with pytest.raises(UpstreamUnavailable) as caught:
        await rig.create()

    assert caught.value.upstream_status == 529
    assert caught.value.headers["Retry-After"] == "2"


async def test_a_prompt_too_long_for_the_local_model_skips_the_fallback_clearly():
    rig = Rig(
        ScriptedProvider("anthropic", unavailable()),
        MAX_RETRIES=0,
        OLLAMA_CONTEXT_TOKENS=300,
    )
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "word " * 1000}],
    }

    with pytest.raises(UpstreamUnavailable) as caught:
        await rig.create(body=body)

    assert "context of 300 tokens" in caught.value.message
    assert rig.ollama.calls == []


async def test_a_stream_fails_over_before_its_first_event():
    rig = Rig(ScriptedProvider("anthropic", unavailable()), MAX_RETRIES=0)
    ex = exchange(stream=True)

    stream = await rig.dispatcher.stream(ex)
    events = [e.name async for e in stream]

    assert ex.attempts == ["anthropic:error:503", "ollama:ok"]
    assert events[-1] == "message_stop" and stream.completed


async def test_a_failure_mid_stream_counts_against_the_target_and_is_not_retried():
    cut = message_events("m", error=StreamInterrupted("lost"))
    rig = Rig(ScriptedProvider("anthropic", cut))
    stream = await rig.dispatcher.stream(exchange(stream=True))

    with pytest.raises(StreamInterrupted):
        async for _ in stream:
            pass

    assert len(rig.anthropic.calls) == 1
    assert await rig.failures() == 1


async def test_an_overload_event_mid_stream_counts_against_the_target():
    error = event(
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
    )
    rig = Rig(ScriptedProvider("anthropic", message_events("m", error=error)))
    stream = await rig.dispatcher.stream(exchange(stream=True))

    names = [e.name async for e in stream]

    assert names[-1] == "error" and not stream.completed
    assert await rig.failures() == 1


async def test_a_complete_stream_counts_nothing_against_the_target():
    rig = Rig(ScriptedProvider("anthropic", OK))
    stream = await rig.dispatcher.stream(exchange(stream=True))

    [e async for e in stream]

    assert stream.completed
    assert await rig.failures() == 0
    assert rig.anthropic.closed == 1


async def test_a_cancelled_canary_hands_its_lease_back():
    rig = Rig(
        ScriptedProvider("anthropic", unavailable(), HANG, OK),
        MAX_RETRIES=0,
        CB_FAILURE_THRESHOLD=1,
    )
    await rig.create()
    rig.breaker_clock[0] += 61
    task = asyncio.create_task(rig.create())
    while len(rig.anthropic.calls) < 2:
        await asyncio.sleep(0)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    ex, _ = await rig.create()

    assert ex.attempts == ["anthropic:ok"]


async def test_a_disabled_breaker_always_lets_calls_through():
    rig = Rig(
        ScriptedProvider("anthropic", unavailable()),
        MAX_RETRIES=0,
        CIRCUIT_BREAKER_ENABLED=False,
        CB_FAILURE_THRESHOLD=1,
    )

    for _ in range(3):
        ex, _ = await rig.create()

    assert ex.attempts == ["anthropic:error:503", "ollama:ok"]
    assert rig.dispatcher.breaker_states()["anthropic"] == "disabled"


async def test_a_request_for_the_local_model_itself_goes_straight_to_it():
    rig = Rig(ScriptedProvider("anthropic", OK))
    ex = exchange()
    ex.model = rig.dispatcher._fallback_model()

    await rig.dispatcher.create(ex)

    assert ex.attempts == ["ollama:ok"]
    assert (ex.provider, ex.fallback) == ("ollama", False)
    assert rig.anthropic.calls == []
