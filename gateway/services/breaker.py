"""Circuit breakers per upstream target, over the shared breaker store.

``before_call`` asks whether a call to a target may go (and whether it is the
half-open canary); ``record`` reports how it went. The caller classifies
outcomes: only retryable upstream failures are reported as failures, so a
caller's own 4xx never counts against a target.

Every state change is logged once, by the process whose call caused it, and
handed to ``listeners`` (the dashboard subscribes there). When the shared
store cannot answer, breakers carry on per process instead of failing
requests: an outage of Redis must not become an outage of the gateway.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from gateway.conf import GatewayConfig
from gateway.state.backend import MemoryBackend, StoreUnavailable
from gateway.state.breaker_store import (
    ALLOWED,
    CANARY,
    CLOSED,
    OPEN,
    REJECTED,
    BreakerPolicy,
    BreakerSnapshot,
    BreakerStore,
    MemoryBreakerStore,
    Transition,
)

logger = logging.getLogger(__name__)

DISABLED = "disabled"

BreakerListener = Callable[[str, str, str], None]


@dataclass(frozen=True, slots=True)
class Permit:
    """The breaker's answer before one call to a target."""

    target: str
    decision: str
    token: str | None = None
    retry_after_s: float = 0.0

    @property
    def allowed(self) -> bool:
        return self.decision != REJECTED

    @property
    def canary(self) -> bool:
        return self.decision == CANARY


def breaker_policy(settings: GatewayConfig) -> BreakerPolicy:
    """The policy the settings describe.

    The canary's lease lasts as long as a call may take before the provider
    gives up on it, so a hung canary frees the breaker about when its own
    request times out.
    """
    call_seconds = settings.UPSTREAM_CONNECT_TIMEOUT + max(
        settings.UPSTREAM_READ_TIMEOUT, settings.STREAM_IDLE_TIMEOUT
    )
    return BreakerPolicy(
        threshold=settings.CB_FAILURE_THRESHOLD,
        window_s=settings.CB_WINDOW_SECONDS,
        cooldown_s=settings.CB_COOLDOWN_SECONDS,
        lease_s=min(call_seconds, settings.REQUEST_DEADLINE_SECONDS),
    )


class CircuitBreaker:
    """One breaker per target name, all kept in one store."""

    def __init__(
        self, store: BreakerStore | None, policy: BreakerPolicy, *, enabled: bool = True
    ) -> None:
        self.policy = policy
        self.enabled = enabled
        self.listeners: list[BreakerListener] = []
        self._local = MemoryBreakerStore(MemoryBackend())
        self._store = store or self._local
        self._shared_failing = False
        self._last_states: dict[str, str] = {}

    async def before_call(self, target: str) -> Permit:
        """Whether a call to ``target`` may go now."""
        if not self.enabled:
            return Permit(target, ALLOWED)

        token = secrets.token_hex(8)
        admission = await self._run("admit", target, token, self.policy)
        self._note(target, Transition(admission.previous, admission.state))
        return Permit(
            target,
            admission.decision,
            token if admission.decision == CANARY else None,
            admission.retry_after_s,
        )

    async def record(self, target: str, permit: Permit, *, success: bool) -> None:
        """Report a call's outcome; only the canary's outcome moves half_open."""
        if not self.enabled or not permit.allowed:
            return
        if success and not permit.canary:
            # A success outside half_open changes nothing: spare the round trip.
            return

        transition = await self._run(
            "record", target, failed=not success, token=permit.token, policy=self.policy
        )
        self._note(target, transition)

    async def release(self, target: str, permit: Permit) -> None:
        """Hand back an abandoned canary's lease so the next caller can probe."""
        if self.enabled and permit.canary and permit.token:
            await self._run("release", target, permit.token)

    async def snapshot(self, target: str) -> BreakerSnapshot:
        if not self.enabled:
            return BreakerSnapshot(DISABLED, 0, 0.0, 0)

        snapshot = await self._run("snapshot", target, self.policy)
        self._last_states[target] = snapshot.state
        return snapshot

    async def reset(self, target: str) -> Transition:
        """Close ``target``'s breaker on every replica sharing the store."""
        transition = await self._run("reset", target)
        self._note(target, transition)
        return transition

    def state(self, target: str) -> str:
        """The last state this process saw, without asking the store."""
        if not self.enabled:
            return DISABLED
        return self._last_states.get(target, CLOSED)

    async def _run(self, operation: str, *args, **kwargs):
        try:
            result = await getattr(self._store, operation)(*args, **kwargs)
        except StoreUnavailable:
            self._note_shared_failure()
            return await getattr(self._local, operation)(*args, **kwargs)

        if self._shared_failing:
            self._shared_failing = False
            logger.warning("breaker store reachable again; breakers shared again")
        return result

    def _note_shared_failure(self) -> None:
        if not self._shared_failing:
            self._shared_failing = True
            logger.warning(
                "breaker store unavailable; breakers fall back to this process"
            )

    def _note(self, target: str, transition: Transition) -> None:
        self._last_states[target] = transition.state
        if not transition.changed:
            return

        level = logging.WARNING if transition.state == OPEN else logging.INFO
        logger.log(
            level,
            "circuit breaker %s: %s -> %s",
            target,
            transition.previous,
            transition.state,
            extra={
                "target": target,
                "breaker_from": transition.previous,
                "breaker_to": transition.state,
            },
        )
        for listener in self.listeners:
            try:
                listener(target, transition.previous, transition.state)
            except Exception:
                # A subscriber's bug must not fail the request that moved the
                # breaker; it is logged with its traceback instead.
                logger.exception("breaker listener failed")
