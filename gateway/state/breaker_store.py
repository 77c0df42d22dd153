"""Circuit breaker state per upstream target, in-process or in Redis.

The state machine (docs/resilience.md):

- ``closed``: calls pass. A retryable failure is noted with its time; when
  ``threshold`` failures fall within the rolling ``window``, the breaker opens.
- ``open``: calls are refused until ``cooldown`` has passed since the trip.
- ``half_open``: the first caller after the cooldown takes a lease and goes
  through as the canary; everyone else is refused while the lease lasts. The
  canary's success closes the breaker, its failure opens it again. A canary
  that never reports (it hung, or its client went away) loses the lease when
  it expires, and the next caller becomes the canary.

Only the canary's verdict moves a breaker out of ``half_open``: a request let
through before the trip that reports late cannot close or reopen it.

Every transition is one atomic step on the store's clock: the backend's clock
in memory, the server's ``TIME`` in Redis (so replicas with skewed clocks
agree). Each operation is one round trip to Redis.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field

from gateway.state.backend import MemoryBackend, RedisBackend, key

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
ALLOWED, CANARY, REJECTED = "allowed", "canary", "rejected"

# Breaker keys outlive any cooldown by far, so a restart finds the state, yet
# a target that is gone stops taking space eventually.
KEY_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    threshold: int
    window_s: float
    cooldown_s: float
    lease_s: float


@dataclass(frozen=True, slots=True)
class Admission:
    """The store's answer before a call: may it go, and did the state move."""

    decision: str
    previous: str
    state: str
    retry_after_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Transition:
    previous: str
    state: str

    @property
    def changed(self) -> bool:
        return self.previous != self.state


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    state: str
    failures_in_window: int
    cooldown_remaining_s: float
    total_trips: int

    def as_dict(self) -> dict:
        return {
            "state": self.state,
            "failures_in_window": self.failures_in_window,
            "cooldown_remaining_s": self.cooldown_remaining_s,
            "total_trips": self.total_trips,
        }


class BreakerStore(ABC):
    @abstractmethod
    async def admit(self, target: str, token: str, policy: BreakerPolicy) -> Admission:
        """Decide whether a call may go; ``token`` names it if it becomes the canary."""

    @abstractmethod
    async def record(
        self, target: str, *, failed: bool, token: str | None, policy: BreakerPolicy
    ) -> Transition:
        """Note a call's outcome; ``token`` is set when the call was a canary."""

    @abstractmethod
    async def release(self, target: str, token: str) -> None:
        """Give up a canary lease without a verdict (the call was abandoned)."""

    @abstractmethod
    async def snapshot(self, target: str, policy: BreakerPolicy) -> BreakerSnapshot:
        """The breaker as /health and /metrics show it."""

    @abstractmethod
    async def reset(self, target: str) -> Transition:
        """Close the breaker and forget its failures; trips are kept."""


@dataclass
class _Breaker:
    state: str = CLOSED
    failures: deque[float] = field(default_factory=deque)
    open_until: float = 0.0
    lease_until: float = 0.0
    lease_token: str = ""
    trips: int = 0

    def trip(self, now: float, policy: BreakerPolicy) -> None:
        self.state, self.open_until = OPEN, now + policy.cooldown_s
        self.failures.clear()
        self.lease_until, self.lease_token = 0.0, ""
        self.trips += 1

    def close(self) -> None:
        self.state, self.open_until = CLOSED, 0.0
        self.failures.clear()
        self.lease_until, self.lease_token = 0.0, ""

    def effective_state(self, now: float) -> str:
        if self.state == OPEN and now >= self.open_until:
            return HALF_OPEN
        return self.state

    def prune(self, now: float, window_s: float) -> None:
        while self.failures and self.failures[0] <= now - window_s:
            self.failures.popleft()


class MemoryBreakerStore(BreakerStore):
    """Breakers of one process. No ``await`` inside an operation, so each is atomic."""

    def __init__(self, backend: MemoryBackend) -> None:
        self.backend = backend
        self._breakers: dict[str, _Breaker] = {}

    def _get(self, target: str) -> _Breaker:
        return self._breakers.setdefault(target, _Breaker())

    async def admit(self, target: str, token: str, policy: BreakerPolicy) -> Admission:
        breaker, now = self._get(target), self.backend.clock()
        previous = breaker.state
        if previous == CLOSED:
            return Admission(ALLOWED, CLOSED, CLOSED)
        if previous == OPEN and now < breaker.open_until:
            return Admission(REJECTED, OPEN, OPEN, breaker.open_until - now)
        if previous == HALF_OPEN and now < breaker.lease_until:
            return Admission(REJECTED, HALF_OPEN, HALF_OPEN, breaker.lease_until - now)

        breaker.state = HALF_OPEN
        breaker.lease_until, breaker.lease_token = now + policy.lease_s, token
        return Admission(CANARY, previous, HALF_OPEN)

    async def record(
        self, target: str, *, failed: bool, token: str | None, policy: BreakerPolicy
    ) -> Transition:
        breaker, now = self._get(target), self.backend.clock()
        previous = breaker.state
        if token and previous == HALF_OPEN and breaker.lease_token == token:
            if failed:
                breaker.trip(now, policy)
            else:
                breaker.close()
            return Transition(previous, breaker.state)
        if previous != CLOSED or not failed:
            return Transition(previous, previous)

        breaker.prune(now, policy.window_s)
        breaker.failures.append(now)
        if len(breaker.failures) >= policy.threshold:
            breaker.trip(now, policy)
        return Transition(previous, breaker.state)

    async def release(self, target: str, token: str) -> None:
        breaker = self._get(target)
        if breaker.state == HALF_OPEN and breaker.lease_token == token:
            breaker.lease_until, breaker.lease_token = 0.0, ""

    async def snapshot(self, target: str, policy: BreakerPolicy) -> BreakerSnapshot:
        breaker, now = self._get(target), self.backend.clock()
        breaker.prune(now, policy.window_s)
        return BreakerSnapshot(
            state=breaker.effective_state(now),
            failures_in_window=len(breaker.failures),
            cooldown_remaining_s=_seconds(max(0.0, breaker.open_until - now)),
            total_trips=breaker.trips,
        )

    async def reset(self, target: str) -> Transition:
        breaker = self._get(target)
        previous = breaker.effective_state(self.backend.clock())
        breaker.close()
        return Transition(previous, CLOSED)


# Every script reads the server's clock in milliseconds, shifted by
# ARGV[1]: zero in service; the contract tests move time with it instead of
# sleeping.
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  + tonumber(ARGV[1])
"""

# KEYS[1] breaker; ARGV: shift, token, lease_ms, ttl_s
_ADMIT = (
    _NOW
    + """
local h = redis.call('HMGET', KEYS[1], 'state', 'open_until', 'lease_until')
local state = h[1] or 'closed'
if state == 'closed' then return {'allowed', state, state, 0} end
local open_until = tonumber(h[2]) or 0
if state == 'open' and now < open_until then
  return {'rejected', state, state, open_until - now}
end
local lease_until = tonumber(h[3]) or 0
if state == 'half_open' and now < lease_until then
  return {'rejected', state, state, lease_until - now}
end
redis.call('HSET', KEYS[1], 'state', 'half_open',
  'lease_until', now + tonumber(ARGV[3]), 'lease_token', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {'canary', state, 'half_open', 0}
"""
)

# KEYS[1] breaker; ARGV: shift, token or '', failed '1'/'0', threshold,
# window_ms, cooldown_ms, ttl_s. Failure times are kept as a comma-separated
# list of at most ``threshold`` entries in one hash field.
_RECORD = (
    _NOW
    + """
local h = redis.call('HMGET', KEYS[1], 'state', 'lease_token', 'failures')
local state = h[1] or 'closed'
local failed = ARGV[3] == '1'
local function trip()
  redis.call('HSET', KEYS[1], 'state', 'open', 'open_until', now + tonumber(ARGV[6]),
    'failures', '', 'lease_until', 0, 'lease_token', '')
  redis.call('HINCRBY', KEYS[1], 'trips', 1)
  redis.call('EXPIRE', KEYS[1], ARGV[7])
end
if ARGV[2] ~= '' and state == 'half_open' and h[2] == ARGV[2] then
  if failed then
    trip()
    return {state, 'open'}
  end
  redis.call('HSET', KEYS[1], 'state', 'closed', 'open_until', 0,
    'failures', '', 'lease_until', 0, 'lease_token', '')
  return {state, 'closed'}
end
if state ~= 'closed' or not failed then return {state, state} end
local kept = {}
local floor = now - tonumber(ARGV[5])
for stamp in string.gmatch(h[3] or '', '[^,]+') do
  if tonumber(stamp) > floor then kept[#kept + 1] = stamp end
end
kept[#kept + 1] = tostring(now)
if #kept >= tonumber(ARGV[4]) then
  trip()
  return {state, 'open'}
end
redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', table.concat(kept, ','))
redis.call('EXPIRE', KEYS[1], ARGV[7])
return {state, 'closed'}
"""
)

# KEYS[1] breaker; ARGV: shift, token
_RELEASE = (
    _NOW
    + """
local h = redis.call('HMGET', KEYS[1], 'state', 'lease_token')
if h[1] == 'half_open' and h[2] == ARGV[2] then
  redis.call('HSET', KEYS[1], 'lease_until', 0, 'lease_token', '')
end
return 0
"""
)

# KEYS[1] breaker; ARGV: shift, window_ms
_SNAPSHOT = (
    _NOW
    + """
local h = redis.call('HMGET', KEYS[1], 'state', 'open_until', 'failures', 'trips')
local state = h[1] or 'closed'
local open_until = tonumber(h[2]) or 0
if state == 'open' and now >= open_until then state = 'half_open' end
local failures = 0
for stamp in string.gmatch(h[3] or '', '[^,]+') do
  if tonumber(stamp) > now - tonumber(ARGV[2]) then failures = failures + 1 end
end
return {state, failures, math.max(0, open_until - now), tonumber(h[4]) or 0}
"""
)

# KEYS[1] breaker; ARGV: shift
_RESET = (
    _NOW
    + """
local h = redis.call('HMGET', KEYS[1], 'state', 'open_until')
local state = h[1] or 'closed'
if state == 'open' and now >= (tonumber(h[2]) or 0) then state = 'half_open' end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'state', 'closed', 'open_until', 0,
    'failures', '', 'lease_until', 0, 'lease_token', '')
end
return state
"""
)


class RedisBreakerStore(BreakerStore):
    """Breakers shared by every replica: one hash per target, ``tg:{b:<target>}``."""

    def __init__(self, backend: RedisBackend) -> None:
        self.backend = backend
        # Milliseconds added to the server's clock; only tests change it.
        self.clock_shift_ms = 0
        self._admit = backend.script(_ADMIT)
        self._record = backend.script(_RECORD)
        self._release = backend.script(_RELEASE)
        self._snapshot = backend.script(_SNAPSHOT)
        self._reset = backend.script(_RESET)

    async def admit(self, target: str, token: str, policy: BreakerPolicy) -> Admission:
        args = [self.clock_shift_ms, token, _ms(policy.lease_s), KEY_TTL_SECONDS]
        reply = await self.backend.run(self._admit, [_key(target)], args)
        decision, previous, state, wait_ms = reply
        return Admission(
            _text(decision), _text(previous), _text(state), int(wait_ms) / 1000
        )

    async def record(
        self, target: str, *, failed: bool, token: str | None, policy: BreakerPolicy
    ) -> Transition:
        args = [
            self.clock_shift_ms,
            token or "",
            "1" if failed else "0",
            policy.threshold,
            _ms(policy.window_s),
            _ms(policy.cooldown_s),
            KEY_TTL_SECONDS,
        ]
        previous, state = await self.backend.run(self._record, [_key(target)], args)
        return Transition(_text(previous), _text(state))

    async def release(self, target: str, token: str) -> None:
        await self.backend.run(
            self._release, [_key(target)], [self.clock_shift_ms, token]
        )

    async def snapshot(self, target: str, policy: BreakerPolicy) -> BreakerSnapshot:
        args = [self.clock_shift_ms, _ms(policy.window_s)]
        reply = await self.backend.run(self._snapshot, [_key(target)], args)
        state, failures, remaining_ms, trips = reply
        return BreakerSnapshot(
            state=_text(state),
            failures_in_window=int(failures),
            cooldown_remaining_s=_seconds(int(remaining_ms) / 1000),
            total_trips=int(trips),
        )

    async def reset(self, target: str) -> Transition:
        previous = await self.backend.run(
            self._reset, [_key(target)], [self.clock_shift_ms]
        )
        return Transition(_text(previous), CLOSED)


def _key(target: str) -> str:
    return key("{b:" + target + "}")


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _seconds(value: float) -> float:
    return round(value, 3)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
