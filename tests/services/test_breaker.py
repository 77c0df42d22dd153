"""The breaker service: permits, published changes, and a store that fails."""

from __future__ import annotations

import logging

from gateway.services.breaker import CircuitBreaker
from gateway.state.backend import MemoryBackend, StoreUnavailable
from gateway.state.breaker_store import BreakerPolicy, MemoryBreakerStore

POLICY = BreakerPolicy(threshold=2, window_s=30, cooldown_s=60, lease_s=10)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class BrokenStore(MemoryBreakerStore):
    """A shared store that stopped answering."""

    async def admit(self, *args, **kwargs):
        raise StoreUnavailable("down")

    async def record(self, *args, **kwargs):
        raise StoreUnavailable("down")


def breaker(clock: Clock | None = None) -> CircuitBreaker:
    store = MemoryBreakerStore(MemoryBackend(clock=clock or Clock()))
    return CircuitBreaker(store, POLICY)


async def fail(service: CircuitBreaker, target: str = "anthropic") -> None:
    permit = await service.before_call(target)
    await service.record(target, permit, success=False)


async def test_each_change_is_published_once_to_every_listener():
    clock = Clock()
    service = breaker(clock)
    seen: list[tuple[str, str, str]] = []
    service.listeners.append(lambda *change: seen.append(change))

    await fail(service)
    await fail(service)
    await service.before_call("anthropic")
    clock.now += 61
    canary = await service.before_call("anthropic")
    await service.record("anthropic", canary, success=True)

    assert canary.canary
    assert seen == [
        ("anthropic", "closed", "open"),
        ("anthropic", "open", "half_open"),
        ("anthropic", "half_open", "closed"),
    ]


async def test_opening_is_logged_as_a_warning(caplog):
    service = breaker()

    with caplog.at_level(logging.INFO, logger="gateway.services.breaker"):
        await fail(service)
        await fail(service)

    records = [r for r in caplog.records if "circuit breaker" in r.getMessage()]
    assert [r.levelno for r in records] == [logging.WARNING]
    assert records[0].breaker_to == "open"


async def test_a_failing_listener_does_not_fail_the_request():
    service = breaker()
    service.listeners.append(lambda *change: 1 / 0)

    await fail(service)
    await fail(service)

    assert service.state("anthropic") == "open"


async def test_a_rejected_permit_carries_the_cooldown_left():
    service = breaker()
    await fail(service)
    await fail(service)

    permit = await service.before_call("anthropic")

    assert not permit.allowed
    assert 59 < permit.retry_after_s <= 60


async def test_breakers_carry_on_in_process_when_the_store_fails():
    service = CircuitBreaker(BrokenStore(MemoryBackend()), POLICY)

    await fail(service)
    await fail(service)
    permit = await service.before_call("anthropic")

    assert not permit.allowed
    assert service.state("anthropic") == "open"


async def test_a_disabled_breaker_allows_everything_and_reports_disabled():
    service = CircuitBreaker(None, POLICY, enabled=False)

    for _ in range(5):
        await fail(service)

    assert (await service.before_call("anthropic")).allowed
    assert (await service.snapshot("anthropic")).state == "disabled"
