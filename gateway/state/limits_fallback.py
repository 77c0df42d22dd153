"""Limits while Redis is away: each replica enforces its share, in process.

``FallbackLimitStore`` sits in front of the shared (Redis) limit store. When
a call raises ``StoreUnavailable`` it answers from a ``ProcessLimitStore``,
which enforces this replica's share of every limit: the shared limit divided
by ``EXPECTED_REPLICAS``, so the replicas together stay near the configured
limit while they cannot coordinate.

A reservation is settled in the store that admitted it, so an in-process
reservation never lingers in process (holding a concurrency slot) after Redis
returns, and a shared one is settled in Redis when it can be. The cost of
requests admitted in process is charged in process only: the shared budget
does not see it, and during an outage each replica may spend up to its share
of a budget beyond the shared one. Windows in process start empty when an
outage starts; nothing is merged back when Redis returns.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from gateway.state.backend import MemoryBackend, StoreUnavailable
from gateway.state.limits_store import (
    HOLD_SECONDS,
    Admission,
    LimitPolicy,
    LimitStore,
    MemoryLimitStore,
    Reservation,
)


def process_share(policy: LimitPolicy, replicas: int) -> LimitPolicy:
    """This process's share of a client's limits when replicas cannot coordinate."""
    if replicas <= 1:
        return policy
    return replace(
        policy,
        requests_per_minute=_share(policy.requests_per_minute, replicas),
        tokens_per_minute=_share(policy.tokens_per_minute, replicas),
        max_concurrent=_share(policy.max_concurrent, replicas),
        daily_budget_nanos=_budget_share(policy.daily_budget_nanos, replicas),
        monthly_budget_nanos=_budget_share(policy.monthly_budget_nanos, replicas),
    )


def _share(limit: int, replicas: int) -> int:
    # 0 means unlimited, so a share is never rounded down to it.
    return 0 if limit == 0 else max(1, math.floor(limit / replicas))


def _budget_share(nanos: int | None, replicas: int) -> int | None:
    # None is no budget and 0 allows nothing; both stay as they are.
    return nanos if not nanos else max(1, nanos // replicas)


class ProcessLimitStore(MemoryLimitStore):
    """In-process limits enforcing this replica's share of each client's limits."""

    def __init__(
        self, backend: MemoryBackend, *, replicas: int, window_seconds: float
    ) -> None:
        super().__init__(backend, window_seconds=window_seconds)
        self.replicas = replicas

    async def admit(
        self,
        client_id: int,
        policy: LimitPolicy,
        reservation: Reservation,
        *,
        hold_seconds: float = HOLD_SECONDS,
    ) -> Admission:
        share = process_share(policy, self.replicas)
        return await super().admit(
            client_id, share, reservation, hold_seconds=hold_seconds
        )


class FallbackLimitStore(LimitStore):
    """The shared limits, or this replica's share of them while Redis is away."""

    def __init__(
        self,
        shared: Any,
        local: LimitStore,
        *,
        clock: Any = time.monotonic,
    ) -> None:
        self.shared = shared
        self.local = local
        self.window_seconds = shared.window_seconds
        self.clock = clock
        # Reservations admitted in process, with the time their hold ends.
        self._held_locally: OrderedDict[str, float] = OrderedDict()

    async def admit(
        self,
        client_id: int,
        policy: LimitPolicy,
        reservation: Reservation,
        *,
        hold_seconds: float = HOLD_SECONDS,
    ) -> Admission:
        try:
            return await self.shared.admit(
                client_id, policy, reservation, hold_seconds=hold_seconds
            )
        except StoreUnavailable:
            pass

        admission = await self.local.admit(
            client_id, policy, reservation, hold_seconds=hold_seconds
        )
        if admission.admitted:
            self._remember(reservation.id, hold_seconds)
        return admission

    async def settle(
        self,
        client_id: int,
        reservation: Reservation,
        *,
        tokens_used: int,
        cost_nanos: int,
    ) -> None:
        store = self.local if self._forget(reservation.id) else self.shared
        try:
            await store.settle(
                client_id, reservation, tokens_used=tokens_used, cost_nanos=cost_nanos
            )
        except StoreUnavailable:
            # The shared budget misses this cost; this process at least counts it.
            await self.local.settle(
                client_id, reservation, tokens_used=tokens_used, cost_nanos=cost_nanos
            )

    async def spent(self, client_id: int) -> tuple[int, int]:
        try:
            return await self.shared.spent(client_id)
        except StoreUnavailable:
            return await self.local.spent(client_id)

    def _remember(self, reservation_id: str, hold_seconds: float) -> None:
        now = self.clock()
        self._held_locally[reservation_id] = now + hold_seconds
        # Reservations never settled (their request died) are dropped once
        # their hold is over, as the in-process store drops them too.
        while self._held_locally:
            oldest, ends = next(iter(self._held_locally.items()))
            if ends > now:
                break
            del self._held_locally[oldest]

    def _forget(self, reservation_id: str) -> bool:
        return self._held_locally.pop(reservation_id, None) is not None
