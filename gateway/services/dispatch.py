"""Sending an exchange to its upstream target.

This is where the call to a provider happens and where each attempt is noted
for ``X-TokensGate-Attempts``.
"""

from __future__ import annotations

import logging
import time

from gateway.errors import UpstreamError
from gateway.providers.base import EventStream, Provider, UpstreamReply
from gateway.services.exchange import Exchange

logger = logging.getLogger(__name__)


class Dispatcher:
    """Calls the primary provider once.

    # TODO: no breaker, retries or Ollama failover yet; an upstream failure is
    # returned to the client as is.
    """

    def __init__(self, providers: dict[str, Provider]) -> None:
        self.providers = providers

    def breaker_states(self) -> dict[str, str]:
        return {"anthropic": "closed", "ollama": "closed"}

    async def create(self, exchange: Exchange) -> UpstreamReply:
        provider = self.providers["anthropic"]
        started = time.monotonic()
        try:
            reply = await provider.create(exchange.upstream_call())
        except UpstreamError as exc:
            self._note_failure(exchange, provider, exc, started)
            raise

        self._note_success(exchange, provider, started)
        return reply

    async def stream(self, exchange: Exchange) -> EventStream:
        provider = self.providers["anthropic"]
        started = time.monotonic()
        try:
            stream = await provider.stream(exchange.upstream_call())
        except UpstreamError as exc:
            self._note_failure(exchange, provider, exc, started)
            raise

        self._note_success(exchange, provider, started)
        return stream

    def _note_success(
        self, exchange: Exchange, provider: Provider, started: float
    ) -> None:
        exchange.provider = provider.name
        exchange.attempts.append(f"{provider.name}:ok")
        logger.info(
            "upstream call",
            extra={
                "provider": provider.name,
                "model": exchange.body.get("model"),
                "upstream_status": 200,
                "latency_ms": round((time.monotonic() - started) * 1000, 1),
                "stream": exchange.stream,
            },
        )

    def _note_failure(
        self, exchange: Exchange, provider: Provider, exc: UpstreamError,
        started: float,
    ) -> None:
        status = exc.upstream_status or exc.status
        exchange.attempts.append(f"{provider.name}:error:{status}")
        logger.info(
            "upstream call failed",
            extra={
                "provider": provider.name,
                "model": exchange.body.get("model"),
                "upstream_status": status,
                "error": type(exc).__name__,
                "latency_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
