"""The one interface every upstream provider implements.

Providers speak Anthropic Messages on both sides: they take an Anthropic request
and return an Anthropic message or a stream of Anthropic events, whatever the
vendor underneath speaks. Vendor errors leave a provider only as members of
``gateway.errors``' tree.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import orjson

from gateway.errors import StreamInterrupted
from gateway.sse import SSEEvent


@dataclass(slots=True)
class UpstreamCall:
    """One request to a provider, already routed and optimised."""

    body: dict
    request_id: str
    raw_body: bytes | None = None
    anthropic_version: str | None = None
    anthropic_beta: str | None = None
    query: dict[str, str] = field(default_factory=dict)

    def encoded_body(self) -> bytes:
        return self.raw_body if self.raw_body is not None else orjson.dumps(self.body)


@dataclass(slots=True)
class UpstreamReply:
    """A complete non-streamed answer: the parsed message and its exact bytes."""

    message: dict
    raw: bytes
    upstream_request_id: str | None = None


class EventStream:
    """An opened upstream stream of Anthropic events.

    Iterating yields events as they arrive. A stream that stops before
    ``message_stop`` raises ``StreamInterrupted``: a cut-off answer must never
    pass for a complete one. ``close`` releases the upstream connection and is
    safe to call more than once.
    """

    def __init__(
        self,
        events: AsyncIterator[SSEEvent],
        close: Callable[[], Awaitable[None]],
        first: SSEEvent | None = None,
    ) -> None:
        self._events = events
        self._close = close
        self._first = first
        self._closed = False
        self.completed = False

    async def __aiter__(self) -> AsyncIterator[SSEEvent]:
        try:
            if self._first is not None:
                first, self._first = self._first, None
                yield first
            async for event in self._events:
                if event.name == "message_stop":
                    self.completed = True
                yield event
                if event.name in ("message_stop", "error"):
                    return
            raise StreamInterrupted("The upstream stream ended without message_stop.")
        finally:
            await self.close()

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._close()


class Provider(ABC):
    """An upstream target: Anthropic itself, or a local fallback model."""

    name: str

    @abstractmethod
    async def create(self, call: UpstreamCall) -> UpstreamReply:
        """Send a non-streaming request and return the complete message."""

    @abstractmethod
    async def stream(self, call: UpstreamCall) -> EventStream:
        """Open a stream; errors before the first event raise, not yield."""

    @abstractmethod
    async def count_tokens(self, call: UpstreamCall) -> dict:
        """Return ``{"input_tokens": N}`` for the request."""

    @abstractmethod
    def is_configured(self) -> bool:
        """Whether this provider can be called at all (a key, a URL)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Release pooled connections."""
