"""Sending an exchange upstream: breakers, retries, deadline and failover.

For each request (docs/resilience.md):

1. Anthropic, through its breaker. A retryable failure (429, 5xx, 529,
   timeouts, connection errors) is retried with capped exponential backoff and
   full jitter, waiting at least the upstream's ``retry-after``, while the
   request's deadline, the process's retry budget and the breaker allow it.
   The caller's own 4xx is passed back at once: never retried, never failed
   over, never counted against Anthropic.
2. Then the local fallback (Ollama, $0), through its own breaker, with the
   request adapted to a local model.
3. When neither answers: a 503 with ``Retry-After`` (or, with no fallback
   configured, Anthropic's own error).

Streams fail over the same way up to their first event, which the providers
read before returning. After that the stream belongs to the client, and an
upstream failure is counted against the target's breaker while
``Gateway.relay`` ends the stream with an error event.

Every attempt is noted in ``exchange.attempts`` for ``X-TokensGate-Attempts``:
``anthropic:error:529``, ``anthropic:skipped:open``, ``ollama:ok``...
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

from gateway.conf import GatewayConfig, config
from gateway.errors import (
    InvalidRequest,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.providers.adapt import FallbackUnsuitable, adapt_for_local
from gateway.providers.base import EventStream, Provider, UpstreamCall, UpstreamReply
from gateway.services.breaker import CircuitBreaker, Permit, breaker_policy
from gateway.services.catalog import ModelCatalog, ModelInfo
from gateway.services.exchange import Exchange
from gateway.services.retry import MAX_RETRY_AFTER_SECONDS, RetryBudget, backoff_delay
from gateway.sse import SSEEvent
from gateway.state.breaker_store import ALLOWED

logger = logging.getLogger(__name__)

PRIMARY, FALLBACK = "anthropic", "ollama"
TARGETS = (PRIMARY, FALLBACK)

# Error types an upstream reports inside a stream that mean it, not the
# request, failed (the vendors' API references).
_TARGET_ERROR_TYPES = frozenset(
    {"api_error", "overloaded_error", "timeout_error", "rate_limit_error"}
)

T = TypeVar("T")
Operation = Callable[[Provider, UpstreamCall], Awaitable[T]]


class _Unanswered(Exception):
    """Anthropic gave no answer; carries what to tell the client if nothing does."""

    def __init__(self, error: UpstreamError | None, retry_after_s: float = 0.0) -> None:
        super().__init__()
        self.error = error
        self.retry_after_s = retry_after_s


class Dispatcher:
    def __init__(
        self,
        providers: dict[str, Provider],
        *,
        breaker: CircuitBreaker | None = None,
        catalog: ModelCatalog | None = None,
        settings: GatewayConfig | None = None,
        budget: RetryBudget | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.providers = providers
        self.settings = settings or config()
        self.breaker = breaker or CircuitBreaker(
            None,
            breaker_policy(self.settings),
            enabled=self.settings.CIRCUIT_BREAKER_ENABLED,
        )
        self.catalog = catalog
        self.budget = budget or RetryBudget()
        self.sleep, self.clock, self.jitter = sleep, clock, jitter

    def breaker_states(self) -> dict[str, str]:
        """Each target's state as this process last saw it (for headers)."""
        return {target: self.breaker.state(target) for target in TARGETS}

    async def breaker_snapshot(self) -> dict[str, dict]:
        """Each target's breaker from the store, for /health and /metrics."""
        return {
            target: (await self.breaker.snapshot(target)).as_dict()
            for target in TARGETS
        }

    async def create(self, exchange: Exchange) -> UpstreamReply:
        return await self._dispatch(exchange, _create)

    async def stream(self, exchange: Exchange) -> EventStream:
        return await self._dispatch(exchange, self._open_stream)

    async def _dispatch(self, exchange: Exchange, operation: Operation[T]) -> T:
        self.budget.note_request()
        deadline = exchange.started + self.settings.REQUEST_DEADLINE_SECONDS
        if exchange.model is not None and exchange.model.provider == FALLBACK:
            # The client asked for the local model itself: no failover involved.
            return await self._call_local(
                exchange, operation, _Unanswered(None), failover=False
            )
        try:
            return await self._call_primary(exchange, operation, deadline)
        except _Unanswered as unanswered:
            return await self._call_local(
                exchange, operation, unanswered, failover=True
            )

    async def _call_primary(
        self, exchange: Exchange, operation: Operation[T], deadline: float
    ) -> T:
        provider = self.providers[PRIMARY]
        if not provider.is_configured():
            exchange.attempts.append(f"{PRIMARY}:skipped:not_configured")
            raise _Unanswered(None)

        error: UpstreamError | None = None
        for attempt in range(self.settings.MAX_RETRIES + 1):
            if error is not None and not await self._pause(attempt, error, deadline):
                break
            permit = await self.breaker.before_call(PRIMARY)
            if not permit.allowed:
                exchange.attempts.append(f"{PRIMARY}:skipped:open")
                raise _Unanswered(error, permit.retry_after_s)
            try:
                call = exchange.upstream_call()
                return await self._attempt(
                    exchange, provider, permit, operation, call, deadline
                )
            except UpstreamRejected:
                raise
            except UpstreamError as exc:
                error = exc
                if not exc.retryable:
                    break
        raise _Unanswered(error)

    async def _pause(self, attempt: int, error: UpstreamError, deadline: float) -> bool:
        """Wait before retry number ``attempt``; False when it must not happen."""
        wait = error.retry_after or 0.0
        if wait > MAX_RETRY_AFTER_SECONDS:
            return False
        delay = max(backoff_delay(attempt, self.jitter()), wait)
        if self.clock() + delay >= deadline:
            return False
        if not self.budget.try_spend():
            logger.info("retry skipped: the retry budget is spent")
            return False

        await self.sleep(delay)
        return True

    async def _call_local(
        self,
        exchange: Exchange,
        operation: Operation[T],
        unanswered: _Unanswered,
        *,
        failover: bool,
    ) -> T:
        provider = self.providers.get(FALLBACK)
        if provider is None or not provider.is_configured():
            raise _final_error(unanswered, tried_fallback=False)
        model = self.settings.OLLAMA_MODEL if failover else exchange.model.model_id
        try:
            body = adapt_for_local(
                exchange.body,
                model=model,
                context_tokens=self.settings.OLLAMA_CONTEXT_TOKENS,
            )
        except FallbackUnsuitable as exc:
            exchange.attempts.append(f"{FALLBACK}:skipped:context")
            if not failover:
                raise InvalidRequest(str(exc), param="messages") from None
            raise _final_error(unanswered, detail=str(exc)) from None

        permit = await self.breaker.before_call(FALLBACK)
        if not permit.allowed:
            exchange.attempts.append(f"{FALLBACK}:skipped:open")
            raise _final_error(unanswered, retry_after_s=permit.retry_after_s)
        try:
            result = await self._attempt(
                exchange,
                provider,
                permit,
                operation,
                exchange.upstream_call(body),
                deadline=None,
            )
        except UpstreamError:
            raise _final_error(unanswered) from None

        if failover:
            exchange.fallback = True
            exchange.model = self._fallback_model()
        return result

    async def _attempt(
        self,
        exchange: Exchange,
        provider: Provider,
        permit: Permit,
        operation: Operation[T],
        call: UpstreamCall,
        deadline: float | None,
    ) -> T:
        """One call to one target, judged by its breaker."""
        started = time.monotonic()
        try:
            result = await self._bounded(operation(provider, call), deadline)
        except UpstreamError as exc:
            self._note_failure(exchange, provider, call, exc, started)
            await self._judge(provider.name, permit, exc)
            raise
        except asyncio.CancelledError:
            # The client went away; the call proved nothing either way.
            await self.breaker.release(provider.name, permit)
            raise

        await self.breaker.record(provider.name, permit, success=True)
        self._note_success(exchange, provider, call, started)
        return result

    async def _bounded(self, awaitable: Awaitable[T], deadline: float | None) -> T:
        if deadline is None:
            return await awaitable
        try:
            async with asyncio.timeout(max(0.0, deadline - self.clock())):
                return await awaitable
        except TimeoutError as exc:
            raise UpstreamTimeout("The request's deadline passed upstream.") from exc

    async def _judge(self, target: str, permit: Permit, exc: UpstreamError) -> None:
        if exc.retryable:
            await self.breaker.record(target, permit, success=False)
        elif isinstance(exc, UpstreamRejected):
            # The target answered, so it is up, whatever it made of the request.
            await self.breaker.record(target, permit, success=True)
        else:
            await self.breaker.release(target, permit)

    async def _open_stream(self, provider: Provider, call: UpstreamCall) -> EventStream:
        stream = await provider.stream(call)
        return self._watch(provider.name, stream)

    def _watch(self, target: str, stream: EventStream) -> EventStream:
        """Count a failure after the stream's first event against ``target``."""

        async def events() -> AsyncIterator[SSEEvent]:
            try:
                async for event in stream:
                    if event.name == "error" and _is_target_error(event):
                        await self._record_late_failure(target)
                    yield event
            except UpstreamError as exc:
                if exc.retryable:
                    await self._record_late_failure(target)
                raise

        return EventStream(events(), stream.close)

    async def _record_late_failure(self, target: str) -> None:
        await self.breaker.record(target, Permit(target, ALLOWED), success=False)

    def _fallback_model(self) -> ModelInfo:
        name = self.settings.OLLAMA_MODEL
        found = self.catalog.find(name) if self.catalog is not None else None
        return found or _free_model(name)

    def _note_success(
        self, exchange: Exchange, provider: Provider, call: UpstreamCall, started: float
    ) -> None:
        exchange.provider = provider.name
        exchange.attempts.append(f"{provider.name}:ok")
        logger.info(
            "upstream call",
            extra={
                "provider": provider.name,
                "model": call.body.get("model"),
                "upstream_status": 200,
                "latency_ms": round((time.monotonic() - started) * 1000, 1),
                "stream": exchange.stream,
            },
        )

    def _note_failure(
        self,
        exchange: Exchange,
        provider: Provider,
        call: UpstreamCall,
        exc: UpstreamError,
        started: float,
    ) -> None:
        status = exc.upstream_status or exc.status
        exchange.attempts.append(f"{provider.name}:error:{status}")
        logger.info(
            "upstream call failed",
            extra={
                "provider": provider.name,
                "model": call.body.get("model"),
                "upstream_status": status,
                "error": type(exc).__name__,
                "latency_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )


async def _create(provider: Provider, call: UpstreamCall) -> UpstreamReply:
    return await provider.create(call)


def _free_model(name: str) -> ModelInfo:
    """A $0 model for a fallback model missing from the pricing table."""
    zero = Decimal(0)
    return ModelInfo(
        model_id=name,
        provider=FALLBACK,
        aliases=(),
        input_price=zero,
        output_price=zero,
        cache_write_5m_price=zero,
        cache_write_1h_price=zero,
        cache_read_price=zero,
        min_cacheable_tokens=0,
        max_output_tokens=4096,
        context_window=0,
        created=0,
    )


def _is_target_error(event: SSEEvent) -> bool:
    try:
        error_type = (event.json().get("error") or {}).get("type")
    except ValueError:
        return True
    return error_type in _TARGET_ERROR_TYPES


def _final_error(
    unanswered: _Unanswered,
    *,
    tried_fallback: bool = True,
    detail: str | None = None,
    retry_after_s: float = 0.0,
) -> UpstreamError:
    """The error for a request no target answered."""
    primary = unanswered.error
    wait = max(
        retry_after_s,
        unanswered.retry_after_s,
        (primary.retry_after or 0.0) if primary else 0.0,
    )
    retry_after = str(max(1, math.ceil(wait)))
    if primary is not None and not tried_fallback and detail is None:
        # With no fallback to speak of, Anthropic's own error says it best.
        if primary.retryable:
            primary.headers.setdefault("Retry-After", retry_after)
        return primary

    message = "No upstream model provider could answer; try again shortly."
    if detail:
        message = f"Claude is unavailable, and the fallback was skipped: {detail}"
    return UpstreamUnavailable(message, headers={"Retry-After": retry_after})
