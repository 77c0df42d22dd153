"""Per-client rate limits, concurrency caps and budgets, in process or in Redis.

Requests per minute and tokens per minute are sliding logs: every admitted
request leaves one entry (admission time, reserved tokens, reservation id)
that counts against its client for exactly ``WINDOW_SECONDS``. A request is
admitted only if the entries of the last minute leave room for it, so no
rolling minute ever holds more than the limit: the log is exact, not an
approximation. Tokens are reserved up front and ``settle`` later sets the
entry to the tokens really used, which frees (or takes) room in the window.

Budgets are spent counters in integer nano-USD per UTC day and month. A
request is admitted while what is spent plus the estimated cost of requests
still in flight is below the budget, so concurrent requests cannot overrun it
by more than what is already in flight; the real cost is charged on settle.

Refusals say which limit refused and how long until that limit lets the same
request through. The accuracy and the Redis key layout are in docs/limits.md.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from gateway.state import limits_scripts
from gateway.state.backend import Clock, MemoryBackend, RedisBackend, key

WINDOW_SECONDS = 60.0

# How long a reservation counts as in flight if it is never settled (its
# process died): it then stops holding budget and concurrency slots.
HOLD_SECONDS = 600.0

# When a budget or the concurrency cap is held only by requests still in
# flight, those usually settle within seconds, well below their estimate.
BUSY_RETRY_SECONDS = 1.0

REQUESTS_PER_MINUTE = "requests_per_minute"
TOKENS_PER_MINUTE = "tokens_per_minute"
CONCURRENT_REQUESTS = "concurrent_requests"
DAILY_BUDGET = "daily_budget"
MONTHLY_BUDGET = "monthly_budget"

_MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    """A client's limits; 0 means no limit, ``None`` means no budget."""

    requests_per_minute: int = 0
    tokens_per_minute: int = 0
    max_concurrent: int = 0
    daily_budget_nanos: int | None = None
    monthly_budget_nanos: int | None = None


@dataclass(frozen=True, slots=True)
class Reservation:
    """What one admitted request holds until it settles."""

    id: str
    tokens: int
    cost_nanos: int


@dataclass(frozen=True, slots=True)
class Admission:
    """The store's answer: admitted or not, and the window as it now stands.

    ``retry_after`` is how long until the refusing limit would let the same
    request through; ``resets_in`` how long until that limit's window or
    budget period ends. ``window_reset`` is how long until every entry now in
    the window has left it.
    """

    admitted: bool
    requests_in_window: int
    tokens_in_window: int
    window_reset: float
    refused_by: str | None = None
    retry_after: float = 0.0
    resets_in: float = 0.0


@dataclass(frozen=True, slots=True)
class Period:
    id: int
    ends: float


def budget_periods(now: float) -> tuple[Period, Period]:
    """The UTC day and month containing ``now``, numbered as the Lua does."""
    return _day_periods(int(now // 86400))


@lru_cache(maxsize=4)
def _day_periods(day_id: int) -> tuple[Period, Period]:
    # Both periods follow from the day alone, and building datetimes cost
    # several microseconds on every settled request; a few recent days are
    # kept so a clock stepping back and forth over midnight stays cheap.
    moment = datetime.fromtimestamp(day_id * 86400, tz=UTC)
    year, month = (
        (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    )
    month_end = datetime(year, month, 1, tzinfo=UTC).timestamp()
    day = Period(id=day_id, ends=(day_id + 1) * 86400.0)
    return day, Period(id=moment.year * 12 + moment.month - 1, ends=month_end)


class LimitStore(ABC):
    window_seconds: float = WINDOW_SECONDS

    @abstractmethod
    async def admit(
        self,
        client_id: int,
        policy: LimitPolicy,
        reservation: Reservation,
        *,
        hold_seconds: float = HOLD_SECONDS,
    ) -> Admission:
        """Admit and record the reservation, or refuse without recording it."""

    @abstractmethod
    async def settle(
        self,
        client_id: int,
        reservation: Reservation,
        *,
        tokens_used: int,
        cost_nanos: int,
    ) -> None:
        """Set the window entry to the tokens used, end the hold, charge the cost."""

    @abstractmethod
    async def spent(self, client_id: int) -> tuple[int, int]:
        """Nano-USD charged this UTC day and this UTC month."""


@dataclass(slots=True)
class _ClientLimits:
    """One client's in-process state; the window is kept in admission order."""

    window: OrderedDict[str, tuple[float, int]] = field(default_factory=OrderedDict)
    tokens: int = 0
    flights: dict[str, tuple[float, int]] = field(default_factory=dict)
    spending: dict[str, tuple[int, int]] = field(default_factory=dict)

    def evict(self, now: float, window_seconds: float) -> None:
        while self.window:
            rid, (at, tokens) = next(iter(self.window.items()))
            if at > now - window_seconds:
                break
            del self.window[rid]
            self.tokens -= tokens
        for rid in [rid for rid, (ends, _) in self.flights.items() if ends <= now]:
            del self.flights[rid]

    def entry_time(self, index: int) -> float:
        return next(itertools.islice(self.window.values(), index, None))[0]

    def tokens_free_at(self, excess: int, now: float, window_seconds: float) -> float:
        freed = 0
        for at, tokens in self.window.values():
            freed += tokens
            if freed >= excess:
                return at
        return now - window_seconds

    def spent(self, name: str, period: Period) -> int:
        current, nanos = self.spending.get(name, (period.id, 0))
        return nanos if current == period.id else 0

    def charge(self, name: str, period: Period, nanos: int) -> None:
        self.spending[name] = (period.id, self.spent(name, period) + nanos)


class MemoryLimitStore(LimitStore):
    """Limits for one process, timed by the backend's (swappable) clock.

    The methods never await, so each runs atomically on the event loop.
    """

    def __init__(
        self, backend: MemoryBackend, *, window_seconds: float = WINDOW_SECONDS
    ) -> None:
        self.backend = backend
        self.window_seconds = window_seconds
        self._clients: dict[int, _ClientLimits] = {}

    async def admit(
        self,
        client_id: int,
        policy: LimitPolicy,
        reservation: Reservation,
        *,
        hold_seconds: float = HOLD_SECONDS,
    ) -> Admission:
        now = self.backend.clock()
        state = self._clients.setdefault(client_id, _ClientLimits())
        state.evict(now, self.window_seconds)

        refusal = self._refusal(state, policy, reservation, now)
        if refusal is None:
            state.window[reservation.id] = (now, reservation.tokens)
            state.tokens += reservation.tokens
            state.flights[reservation.id] = (now + hold_seconds, reservation.cost_nanos)

        newest = next(reversed(state.window.values()), None)
        window_reset = newest[0] + self.window_seconds - now if newest else 0.0
        name, wait, resets = refusal or (None, 0.0, 0.0)
        return Admission(
            admitted=refusal is None,
            requests_in_window=len(state.window),
            tokens_in_window=state.tokens,
            window_reset=window_reset,
            refused_by=name,
            retry_after=max(wait, 0.0),
            resets_in=resets,
        )

    async def settle(
        self,
        client_id: int,
        reservation: Reservation,
        *,
        tokens_used: int,
        cost_nanos: int,
    ) -> None:
        state = self._clients.setdefault(client_id, _ClientLimits())
        entry = state.window.get(reservation.id)
        if entry is not None:
            state.window[reservation.id] = (entry[0], tokens_used)
            state.tokens += tokens_used - entry[1]
        state.flights.pop(reservation.id, None)

        if cost_nanos > 0:
            day, month = budget_periods(self.backend.clock())
            state.charge(DAILY_BUDGET, day, cost_nanos)
            state.charge(MONTHLY_BUDGET, month, cost_nanos)

    async def spent(self, client_id: int) -> tuple[int, int]:
        state = self._clients.get(client_id) or _ClientLimits()
        day, month = budget_periods(self.backend.clock())
        return state.spent(DAILY_BUDGET, day), state.spent(MONTHLY_BUDGET, month)

    def _refusal(
        self,
        state: _ClientLimits,
        policy: LimitPolicy,
        reservation: Reservation,
        now: float,
    ) -> tuple[str, float, float] | None:
        """The refusing limit with the longest wait, as (name, wait, resets)."""
        found: list[tuple[str, float, float]] = []
        window = self.window_seconds

        rpm, count = policy.requests_per_minute, len(state.window)
        if rpm and count >= rpm:
            wait = state.entry_time(count - rpm) + window - now
            found.append((REQUESTS_PER_MINUTE, wait, wait))
        tpm = policy.tokens_per_minute
        need = min(reservation.tokens, tpm)
        if tpm and state.tokens + need > tpm:
            free_at = state.tokens_free_at(state.tokens + need - tpm, now, window)
            found.append(
                (TOKENS_PER_MINUTE, free_at + window - now, free_at + window - now)
            )
        if policy.max_concurrent and len(state.flights) >= policy.max_concurrent:
            found.append((CONCURRENT_REQUESTS, BUSY_RETRY_SECONDS, BUSY_RETRY_SECONDS))
        found.extend(self._budget_refusals(state, policy, now))

        return max(found, key=lambda refusal: refusal[1], default=None)

    def _budget_refusals(
        self, state: _ClientLimits, policy: LimitPolicy, now: float
    ) -> list[tuple[str, float, float]]:
        if policy.daily_budget_nanos is None and policy.monthly_budget_nanos is None:
            return []
        held = sum(cost for _, cost in state.flights.values())
        day, month = budget_periods(now)
        found = []
        for name, budget, period in (
            (DAILY_BUDGET, policy.daily_budget_nanos, day),
            (MONTHLY_BUDGET, policy.monthly_budget_nanos, month),
        ):
            used = state.spent(name, period)
            if budget is None or used + held < budget:
                continue
            left = period.ends - now
            found.append((name, left if used >= budget else BUSY_RETRY_SECONDS, left))
        return found


class RedisLimitStore(LimitStore):
    """Limits shared by every replica, one Lua script call per operation.

    ``clock`` is for tests only: when set, scripts are given its time instead
    of reading the server's, so window edges can be tested without sleeping.
    """

    def __init__(
        self,
        backend: RedisBackend,
        *,
        window_seconds: float = WINDOW_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        self.backend = backend
        self.window_seconds = window_seconds
        self.clock = clock
        self._admit = backend.script(limits_scripts.ADMIT)
        self._settle = backend.script(limits_scripts.SETTLE)
        self._spent = backend.script(limits_scripts.SPENT)

    async def admit(
        self,
        client_id: int,
        policy: LimitPolicy,
        reservation: Reservation,
        *,
        hold_seconds: float = HOLD_SECONDS,
    ) -> Admission:
        args = [
            reservation.id,
            reservation.tokens,
            reservation.cost_nanos,
            policy.requests_per_minute,
            policy.tokens_per_minute,
            _budget_arg(policy.daily_budget_nanos),
            _budget_arg(policy.monthly_budget_nanos),
            policy.max_concurrent,
            _micros(hold_seconds),
            _micros(self.window_seconds),
            _micros(BUSY_RETRY_SECONDS),
            self._now(),
        ]
        reply = await self.backend.run(self._admit, self.keys(client_id), args)

        admitted, refused, wait, resets, count, tokens, window_reset = reply
        return Admission(
            admitted=bool(admitted),
            requests_in_window=int(count),
            tokens_in_window=int(tokens),
            window_reset=int(window_reset) / _MICROS,
            refused_by=refused.decode() if refused else None,
            retry_after=int(wait) / _MICROS,
            resets_in=int(resets) / _MICROS,
        )

    async def settle(
        self,
        client_id: int,
        reservation: Reservation,
        *,
        tokens_used: int,
        cost_nanos: int,
    ) -> None:
        args = [
            reservation.id,
            tokens_used,
            cost_nanos,
            _micros(self.window_seconds),
            self._now(),
        ]
        await self.backend.run(self._settle, self.keys(client_id), args)

    async def spent(self, client_id: int) -> tuple[int, int]:
        reply = await self.backend.run(self._spent, self.keys(client_id), [self._now()])
        return int(reply[0]), int(reply[1])

    def keys(self, client_id: int) -> list[str]:
        tag = f"{{c:{client_id}}}"
        return [key(tag, "limits", name) for name in limits_scripts.KEY_NAMES]

    def _now(self) -> str:
        return "" if self.clock is None else str(_micros(self.clock()))


def _micros(seconds: float) -> int:
    return round(seconds * _MICROS)


def _budget_arg(nanos: int | None) -> int:
    return -1 if nanos is None else nanos
