"""The request pipeline shared by both API surfaces.

The order of the steps is the product's contract (docs/architecture.md):

1. authenticate the key            ``authenticate``
2. validate the body               the surface's view, before ``admit``
3. estimate tokens                 ``admit``
4. route to a model                ``admit``
5. apply limits and budgets        ``admit``
6. optimise the prompt             ``admit``
7. look up the response cache      ``complete`` / ``open_stream``
8. call upstream (breakers, retries, failover)   ``Dispatcher``
9. settle usage, cost, counters, records         ``settle``

Surfaces translate to and from Anthropic Messages around this pipeline; the
pipeline itself only ever sees Anthropic requests, messages and events.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import orjson

from gateway.errors import GatewayError, StreamInterrupted, UpstreamError
from gateway.providers.base import EventStream, UpstreamReply
from gateway.services.catalog import ModelCatalog
from gateway.services.clients import ClientDirectory, ClientProfile
from gateway.services.dispatch import Dispatcher
from gateway.services.exchange import Exchange
from gateway.services.message_events import replay_stream
from gateway.services.pricing import Usage, settle_cost
from gateway.services.response_cache import cached_reply
from gateway.services.routing import route_request
from gateway.services.tokens import estimate_input_tokens
from gateway.sse import SSEEvent, encode_event
from gateway.state.store import StateStore

logger = logging.getLogger(__name__)

Observer = Callable[[Exchange], None]


class Gateway:
    """One per process: owns the pipeline's services and runs its steps."""

    def __init__(
        self,
        *,
        catalog: ModelCatalog,
        clients: ClientDirectory,
        dispatcher: Dispatcher,
        store: StateStore | None = None,
    ) -> None:
        self.catalog = catalog
        self.clients = clients
        self.dispatcher = dispatcher
        self.store = store
        # Optional stages, plugged in by ``gateway.runtime``: each is None until
        # its feature is configured, and the pipeline skips a missing stage.
        self.limiter = None
        self.optimizer = None
        self.response_cache = None
        self.observers: list[Observer] = []

    async def authenticate(self, key: str | None) -> ClientProfile:
        return await self.clients.authenticate(key)

    async def admit(
        self,
        exchange: Exchange,
        *,
        requested_model: str | None,
        strategy_header: str | None,
    ) -> None:
        """Estimate, route, limit and optimise; raise to refuse the request."""
        await self.route(
            exchange, requested_model=requested_model, strategy_header=strategy_header
        )

        if self.optimizer is not None:
            # An unknown optimisation mode is bad input: refused before limits.
            self.optimizer.mode_for(exchange)
        if exchange.default_max_tokens:
            exchange.body["max_tokens"] = exchange.model.max_output_tokens
        try:
            if self.limiter is not None:
                await self.limiter.admit(exchange)
            if self.optimizer is not None:
                self.optimizer.apply(exchange)
        except GatewayError as exc:
            # Refusals are settled too, so metrics and records count them and
            # a reservation the limiter already made is released.
            await self.settle(exchange, error=exc)
            raise

    async def route(
        self,
        exchange: Exchange,
        *,
        requested_model: str | None,
        strategy_header: str | None,
    ) -> None:
        """Estimate the prompt's tokens and choose the model that serves it.

        Part of ``admit``. Token counting calls it on its own: a count asks no
        model for an answer, so it reserves no output tokens and is not optimised.
        """
        await self.catalog.refresh_if_stale()
        exchange.estimated_tokens = estimate_input_tokens(exchange.body)

        decision = route_request(
            catalog=self.catalog,
            requested_model=requested_model,
            strategy_header=strategy_header,
            estimated_tokens=exchange.estimated_tokens,
        )
        exchange.model, exchange.strategy = decision.model, decision.strategy
        if exchange.body.get("model") != decision.model.model_id:
            self._set_model(exchange, requested_model)

    async def complete(self, exchange: Exchange) -> UpstreamReply:
        """Answer a non-streaming request with a complete message."""
        cached = await self._cached_answer(exchange)
        if cached is not None:
            await self.settle(exchange)
            return cached_reply(cached)

        try:
            reply = await self.dispatcher.create(exchange)
        except GatewayError as exc:
            await self.settle(exchange, error=exc)
            raise

        exchange.served_model = reply.message.get("model")
        exchange.usage = Usage.from_anthropic(reply.message.get("usage"))
        if self.response_cache is not None:
            await self.response_cache.store(exchange, reply.message)
        await self.settle(exchange)
        return reply

    async def open_stream(self, exchange: Exchange) -> EventStream:
        """Open the upstream stream; failures here still allow a clean error.

        A cached answer is replayed as the events Anthropic would have sent,
        so both surfaces relay it like a live stream.
        """
        cached = await self._cached_answer(exchange)
        if cached is not None:
            return replay_stream(cached)

        try:
            return await self.dispatcher.stream(exchange)
        except GatewayError as exc:
            await self.settle(exchange, error=exc)
            raise

    async def relay(
        self, exchange: Exchange, stream: EventStream
    ) -> AsyncIterator[SSEEvent]:
        """Yield the stream's events, reading usage in passing, then settle.

        A failure after the first event can no longer change the response
        status, so it becomes a terminal ``error`` event and is recorded as an
        error. A client that goes away cancels the generator, which closes the
        upstream connection in ``finally``.
        """
        # TODO: relay the events of one upstream read as one batch; each event
        # now crosses every layer and costs a socket write of its own, which
        # is most of a stream's CPU (docs/benchmarks.md).
        tracker = UsageTracker()
        cache = self.response_cache
        recorder = cache.recorder(exchange) if cache is not None else None
        error: GatewayError | None = None
        try:
            async for event in stream:
                tracker.observe(event)
                if recorder is not None:
                    recorder.observe(event)
                yield event
            if tracker.error is not None:
                error = tracker.error
            elif recorder is not None and recorder.result() is not None:
                await cache.store(exchange, recorder.result())
        except UpstreamError as exc:
            error = (
                exc
                if isinstance(exc, StreamInterrupted)
                else StreamInterrupted(exc.message)
            )
            logger.warning(
                "upstream stream interrupted", extra={"provider": exchange.provider}
            )
            yield error_event(error)
        finally:
            await stream.close()
            exchange.usage = tracker.usage()
            exchange.served_model = tracker.model
            if error is None and not stream.completed:
                exchange.status, exchange.error_type = 499, "client_disconnected"
            await self.settle(exchange, error=error)

    async def settle(
        self, exchange: Exchange, *, error: GatewayError | None = None
    ) -> None:
        """Price the usage, release limits, tell observers; once per exchange."""
        if exchange.settled:
            return
        exchange.settled = True

        if error is not None:
            exchange.status = error.status
            exchange.error_type = error.anthropic_type
        settle_cost(exchange)
        if self.response_cache is not None:
            await self.response_cache.finish(exchange)
        if self.limiter is not None:
            await self.limiter.settle(exchange)
        for observer in self.observers:
            try:
                observer(exchange)
            except Exception:
                # An observer's bug must not fail a request that has already
                # been answered; it is logged with its traceback instead.
                logger.exception("settlement observer failed")

    async def _cached_answer(self, exchange: Exchange) -> dict | None:
        if self.response_cache is None:
            return None
        return await self.response_cache.lookup(exchange)

    def _set_model(self, exchange: Exchange, requested_model: str | None) -> None:
        # Aliases the upstream itself knows are left as the client wrote them on
        # the passthrough path, so its bytes stay untouched.
        if exchange.surface == "anthropic" and exchange.strategy == "explicit":
            if requested_model in exchange.model.aliases:
                return
        exchange.body["model"] = exchange.model.model_id
        exchange.mark_body_changed()


class UsageTracker:
    """Reads model, usage, stop reason and errors from Anthropic events."""

    def __init__(self) -> None:
        self.model: str | None = None
        self.stop_reason: str | None = None
        self.error: GatewayError | None = None
        self._usage: dict = {}

    def observe(self, event: SSEEvent) -> None:
        name = event.name
        if name == "message_start":
            message = event.json().get("message") or {}
            self.model = message.get("model")
            self._usage.update(message.get("usage") or {})
        elif name == "message_delta":
            payload = event.json()
            self.stop_reason = (payload.get("delta") or {}).get("stop_reason")
            self._usage.update(payload.get("usage") or {})
        elif name == "error":
            error = event.json().get("error") or {}
            self.error = StreamInterrupted(error.get("message") or None)
            self.error.anthropic_type = error.get("type", "api_error")

    def usage(self) -> Usage | None:
        return Usage.from_anthropic(self._usage) if self._usage else None


def error_event(error: GatewayError) -> SSEEvent:
    payload = {
        "type": "error",
        "error": {"type": error.anthropic_type, "message": error.message},
    }
    raw = encode_event("error", payload)
    return SSEEvent(name="error", data=orjson.dumps(payload), raw=raw)
