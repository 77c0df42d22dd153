"""Monotonic counters for metrics: totals and per-minute series.

A counter store knows nothing of requests: callers hand it named integer
increments (``monitoring.metrics`` decides the names). It keeps

* one set of totals, read in one step however much traffic there was, and
* a small set of counters per wall-clock minute, kept for two hours, for the
  dashboard's charts.

Latency is counted as histogram buckets (one field per bucket) and costs as
integer nano-dollars, so percentiles, averages and Prometheus histograms are
derived from the totals without keeping individual samples, and sums stay exact.

In Redis every total lives in one hash, ``tg:{m}:totals``, and each minute in
its own hash ``tg:{m}:min:<minute>`` with a TTL; the shared hash tag puts them
on one Cluster slot, so one script call updates both. Minutes are numbered by
the caller's wall clock: replicas agree on the minute to within their clock
skew, which is small next to a minute.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Awaitable
from typing import Any

from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.state.backend import MemoryBackend, RedisBackend, StoreUnavailable, key

logger = logging.getLogger(__name__)

Increments = dict[str, int]

SERIES_MINUTES_KEPT = 120
# While Redis is unreachable, unsent increments are kept per minute, up to this
# many minutes; the oldest minute's series is dropped beyond it (its totals are
# carried into the next one, so totals are never lost).
_PENDING_MINUTES_LIMIT = 180

_RECORD_SCRIPT = """
local totals = tonumber(ARGV[2])
local i = 3
for _ = 1, totals do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
if i <= #ARGV then
  while i <= #ARGV do
    redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1])
    i = i + 2
  end
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
return 1
"""


class CounterStore(ABC):
    """Adds increments atomically; reads totals and recent minutes."""

    @abstractmethod
    async def record(
        self, *, totals: Increments, minute: int, per_minute: Increments
    ) -> None:
        """Add ``totals`` to the totals and ``per_minute`` to minute ``minute``."""

    @abstractmethod
    async def totals(self) -> dict[str, int]:
        """Every total counter by name; absent counters are zero."""

    @abstractmethod
    async def series(
        self, *, last_minute: int, count: int
    ) -> dict[int, dict[str, int]]:
        """The per-minute counters of ``count`` minutes ending at ``last_minute``."""


class MemoryCounterStore(CounterStore):
    """Counters of this process only."""

    def __init__(self, backend: MemoryBackend | None = None) -> None:
        self.backend = backend or MemoryBackend()
        self._totals: Counter[str] = Counter()
        self._minutes: dict[int, Counter[str]] = {}

    def add(self, *, totals: Increments, minute: int, per_minute: Increments) -> None:
        """The synchronous form of ``record``: in-process counting needs no I/O."""
        self._totals.update(totals)
        if not per_minute:
            return

        bucket = self._minutes.get(minute)
        if bucket is None:
            bucket = self._minutes[minute] = Counter()
            self._forget_before(minute - SERIES_MINUTES_KEPT)
        bucket.update(per_minute)

    async def record(
        self, *, totals: Increments, minute: int, per_minute: Increments
    ) -> None:
        self.add(totals=totals, minute=minute, per_minute=per_minute)

    async def totals(self) -> dict[str, int]:
        return dict(self._totals)

    async def series(
        self, *, last_minute: int, count: int
    ) -> dict[int, dict[str, int]]:
        first = last_minute - count + 1
        return {
            minute: dict(values)
            for minute, values in self._minutes.items()
            if first <= minute <= last_minute
        }

    def _forget_before(self, oldest: int) -> None:
        for minute in [m for m in self._minutes if m < oldest]:
            del self._minutes[minute]


class RedisCounterStore(CounterStore):
    """Counters shared by every replica, one script call per ``record``."""

    def __init__(self, backend: RedisBackend) -> None:
        self.backend = backend
        self._script = backend.script(_RECORD_SCRIPT)
        self._totals_key = key("{m}", "totals")
        self._pending: dict[int, tuple[Counter[str], Counter[str]]] = {}

    async def record(
        self, *, totals: Increments, minute: int, per_minute: Increments
    ) -> None:
        """Send the increments, or raise ``StoreUnavailable``.

        Increments Redis surely did not get (the connection failed) are kept
        and ride along with the next call that finds Redis again, so an outage
        delays counts instead of losing them. A timed-out call may still run
        once Redis wakes up, so its increments are not kept: resending could
        count them twice, and a rare undercount is the lesser harm.
        """
        if not self._pending:
            try:
                await self._send(minute, totals, per_minute)
                return
            except StoreUnavailable as exc:
                if not _timed_out(exc):
                    self._keep(minute, totals, per_minute)
                raise

        self._keep(minute, totals, per_minute)
        await self._send_pending()

    async def totals(self) -> dict[str, int]:
        raw = await self._call(self.backend.client.hgetall(self._totals_key))
        return _decode(raw)

    async def series(
        self, *, last_minute: int, count: int
    ) -> dict[int, dict[str, int]]:
        minutes = list(range(last_minute - count + 1, last_minute + 1))
        pipe = self.backend.client.pipeline(transaction=False)
        for minute in minutes:
            pipe.hgetall(self._minute_key(minute))
        replies = await self._call(pipe.execute())
        return {m: _decode(raw) for m, raw in zip(minutes, replies, strict=True) if raw}

    async def _send(
        self, minute: int, totals: Increments, per_minute: Increments
    ) -> None:
        args: list[str | int] = [SERIES_MINUTES_KEPT * 60, len(totals)]
        for counts in (totals, per_minute):
            for name, amount in counts.items():
                args += [name, amount]
        keys = [self._totals_key, self._minute_key(minute)]
        await self.backend.run(self._script, keys, args)

    async def _send_pending(self) -> None:
        # Entries leave ``_pending`` before the await, so concurrent calls never
        # send the same increments twice; a failed entry is merged back.
        for minute in sorted(self._pending):
            totals, per_minute = self._pending.pop(minute)
            try:
                await self._send(minute, dict(totals), dict(per_minute))
            except StoreUnavailable as exc:
                if not _timed_out(exc):
                    self._keep(minute, totals, per_minute)
                raise

    def _keep(self, minute: int, totals: Increments, per_minute: Increments) -> None:
        kept_totals, kept_minute = self._pending.setdefault(
            minute, (Counter(), Counter())
        )
        kept_totals.update(totals)
        kept_minute.update(per_minute)
        if len(self._pending) > _PENDING_MINUTES_LIMIT:
            oldest, newest = min(self._pending), max(self._pending)
            dropped_totals, _ = self._pending.pop(oldest)
            self._pending[newest][0].update(dropped_totals)

    def _minute_key(self, minute: int) -> str:
        return key("{m}", "min", minute)

    async def _call(self, awaitable: Awaitable[Any]) -> Any:
        try:
            return await awaitable
        except (RedisError, OSError, TimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc


def _timed_out(exc: StoreUnavailable) -> bool:
    return isinstance(exc.__cause__, RedisTimeoutError | TimeoutError)


def _decode(raw: dict) -> dict[str, int]:
    return {
        (name.decode() if isinstance(name, bytes) else name): int(value)
        for name, value in raw.items()
    }
