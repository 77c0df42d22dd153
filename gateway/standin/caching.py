"""Simulated Anthropic prompt caching.

The rules follow Anthropic's prompt-caching documentation (the vendors' API references):

- A block with ``cache_control`` is a breakpoint. The prefix up to and
  including it is cacheable when it reaches the model's minimum length;
  shorter prefixes are silently not cached.
- On a request, the longest stored, unexpired prefix is read from the cache.
  The system looks for it at each breakpoint and at up to 20 blocks before
  it, which is how a conversation that moves its last breakpoint forward
  still reads the previous turn's prefix.
- Tokens from there to the last cacheable breakpoint are written, each span
  at the TTL of the breakpoint that closes it; the rest is uncached input.
- Entries live 5 minutes (or 1 hour for ``ttl: "1h"``), refreshed on a hit,
  and are kept per API key and model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.standin.segments import PromptLayout

LOOKBACK_BLOCKS = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}

# Past this many entries, expired ones are swept; a benchmark that sends
# unique prompts for hours must not grow the process without bound.
SWEEP_THRESHOLD = 200_000


@dataclass(frozen=True)
class CacheUsage:
    """How a request's input tokens split between cache and fresh input."""

    input_tokens: int
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0

    @property
    def cache_creation(self) -> int:
        """All cache writes, as Anthropic's ``cache_creation_input_tokens``."""
        return self.cache_write_5m + self.cache_write_1h


@dataclass
class _Entry:
    tokens: int
    ttl_seconds: float
    expires_at: float


Scope = tuple[str, str]


class PromptCache:
    """Stored prefixes per (API key, model), with expiry."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        # The clock is an attribute so tests can expire entries without
        # sleeping for five minutes.
        self.clock = clock
        self._entries: dict[tuple[Scope, bytes], _Entry] = {}

    def clear(self) -> None:
        """Forget every stored prefix."""
        self._entries.clear()

    def account(
        self, *, scope: Scope, layout: PromptLayout, min_tokens: int
    ) -> CacheUsage:
        """Split a request's input into read, written and uncached tokens.

        Stores the request's cacheable breakpoints as a side effect, as the
        real cache does when the request is processed.
        """
        breakpoints = [
            index
            for index in layout.breakpoints
            if layout.segments[index].end_tokens >= min_tokens
        ]
        if not breakpoints:
            return CacheUsage(input_tokens=layout.total_tokens)

        now = self.clock()
        read = self._read(scope, layout, breakpoints, now)
        writes = self._write(scope, layout, breakpoints, read, now)
        uncached = layout.total_tokens - read - writes["5m"] - writes["1h"]

        return CacheUsage(
            input_tokens=uncached,
            cache_write_5m=writes["5m"],
            cache_write_1h=writes["1h"],
            cache_read=read,
        )

    def _read(
        self, scope: Scope, layout: PromptLayout, breakpoints: list[int], now: float
    ) -> int:
        # Positions are visited in decreasing order, so the first live entry
        # found is the longest cached prefix.
        for breakpoint in reversed(breakpoints):
            lowest = max(breakpoint - LOOKBACK_BLOCKS + 1, 0)
            for index in range(breakpoint, lowest - 1, -1):
                entry = self._entries.get((scope, layout.segments[index].digest))
                if entry is not None and entry.expires_at > now:
                    entry.expires_at = now + entry.ttl_seconds
                    return entry.tokens

        return 0

    def _write(
        self,
        scope: Scope,
        layout: PromptLayout,
        breakpoints: list[int],
        read: int,
        now: float,
    ) -> dict[str, int]:
        writes = {"5m": 0, "1h": 0}
        covered = read
        for index in breakpoints:
            segment = layout.segments[index]
            ttl = segment.ttl if segment.ttl in TTL_SECONDS else "5m"
            if segment.end_tokens > covered:
                writes[ttl] += segment.end_tokens - covered
                covered = segment.end_tokens
            self._store(scope, segment.digest, segment.end_tokens, ttl, now)

        return writes

    def _store(
        self, scope: Scope, digest: bytes, tokens: int, ttl: str, now: float
    ) -> None:
        if len(self._entries) >= SWEEP_THRESHOLD:
            self._sweep(now)

        ttl_seconds = TTL_SECONDS[ttl]
        entry = self._entries.get((scope, digest))
        if entry is not None and entry.expires_at > now:
            entry.ttl_seconds = max(entry.ttl_seconds, ttl_seconds)
            entry.expires_at = max(entry.expires_at, now + ttl_seconds)
            return

        self._entries[(scope, digest)] = _Entry(tokens, ttl_seconds, now + ttl_seconds)

    def _sweep(self, now: float) -> None:
        live = {key: e for key, e in self._entries.items() if e.expires_at > now}
        if len(live) >= SWEEP_THRESHOLD:
            # Everything is still live: drop the older half, in insertion order.
            live = dict(list(live.items())[len(live) // 2 :])
        self._entries = live
