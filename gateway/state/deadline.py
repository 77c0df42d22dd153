"""Deadlines for Redis calls that a busy event loop cannot trip on its own.

An asyncio timeout is a timer. When the event loop is busy (a burst of
requests arriving at once, a long garbage collection), a 100 ms timer runs
late, in the same loop iteration that finally reads the reply Redis sent long
before, and it runs first: the call "times out" although Redis answered in
microseconds. Under a burst that failed calls that had in fact succeeded,
so a request could be admitted twice (once in Redis, once in process).

``call_within`` decides at the deadline in two steps. It cancels the call
only after the wake-ups already queued in that loop iteration have run, so a
reply that is already readable is read first. And when its timer itself ran
late (the loop was busy, not Redis), it looks again after up to two more loop
iterations before giving up. A Redis that is really away still fails the call
at the deadline, give or take the loop's own lag.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

# A timer this late means the loop was busy when the deadline came.
LATE_SECONDS = 0.02
MAX_DEFERRALS = 2


async def call_within(awaitable: Awaitable[T], seconds: float) -> T:
    """Await ``awaitable``; raise ``TimeoutError`` once ``seconds`` have passed."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(None) as scope:
        watchdog = _Watchdog(loop, scope)
        watchdog.arm(seconds)
        try:
            return await awaitable
        finally:
            watchdog.disarm()


class _Watchdog:
    def __init__(self, loop: asyncio.AbstractEventLoop, scope: asyncio.Timeout) -> None:
        self.loop = loop
        self.scope = scope
        self.deferrals = 0
        self.handle: asyncio.TimerHandle | None = None

    def arm(self, seconds: float) -> None:
        due = self.loop.time() + seconds
        self.handle = self.loop.call_at(due, self._expire, due)

    def disarm(self) -> None:
        if self.handle is not None:
            self.handle.cancel()

    def _expire(self, due: float) -> None:
        now = self.loop.time()
        if now - due > LATE_SECONDS and self.deferrals < MAX_DEFERRALS:
            self.deferrals += 1
            self.handle = self.loop.call_at(now, self._expire, now)
            return
        # A deadline at or before now is queued with call_soon, behind the
        # wake-ups that replies read in this iteration have queued.
        self.scope.reschedule(now)
