"""The exact-match response cache (pipeline step 7, docs/architecture.md).

The key is a SHA-256 over the canonical upstream request: the Anthropic body
after routing and optimisation, with the routed model id, minus what cannot
change the answer (``stream``, ``metadata`` and ``cache_control`` markers, which
only tell Anthropic where to cache the prompt), plus the ``anthropic-beta``
features and the client's cache scope. Both API surfaces build the same
Anthropic body for the same request, so they share entries. Scope is
``client:<id>`` unless an operator puts clients in a shared scope in admin, so
tenants never see each other's answers by default.

``Cache-Control: no-cache`` skips the lookup but stores the fresh answer;
``no-store`` does neither. Only complete, successful answers from Anthropic
are stored: never errors, streams that did not reach ``message_stop``,
fallback answers, refusals or paused turns. A hit is billed nothing; the cost
it avoided is accounted in ``pricing.settle_cost``.

Concurrent identical misses make one upstream call. Within a process the
first miss leads and the others await its answer (an asyncio future per key).
Across replicas the leader also takes a short lock in the store; a replica
that finds the lock held polls the store until the entry appears or the lock
goes away, for at most ``CACHE_LOCK_SECONDS``. The trade-off: a waiter's
latency becomes the leader's, and polling adds store reads (every 20–250 ms
per waiting replica, not per waiting request); a leader that dies holds
others up until the lock expires, after which they call upstream themselves.
A duplicate call is preferred to an unbounded wait.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson

from gateway.providers.base import UpstreamReply
from gateway.services.exchange import Exchange
from gateway.services.message_events import MessageAccumulator
from gateway.services.pricing import Usage
from gateway.state.backend import StoreUnavailable
from gateway.state.cache_store import CacheStore

logger = logging.getLogger(__name__)

HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"

# Answers that are the model's complete reply to exactly this request. A
# max_tokens cut is kept: the same request gets the same cut. ``pause_turn``
# must be continued, and a refusal may not repeat, so neither is stored.
STORABLE_STOP_REASONS = frozenset(
    {"end_turn", "stop_sequence", "tool_use", "max_tokens"}
)
NOT_IN_KEY = frozenset({"stream", "metadata", "cache_control"})

POLL_FIRST_SECONDS = 0.02
POLL_MAX_SECONDS = 0.25

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CachePolicy:
    lookup: bool = True
    store: bool = True


def request_policy(cache_control: str) -> CachePolicy:
    """Read the client's ``Cache-Control`` request header."""
    directives = {
        part.strip().split("=", 1)[0].lower()
        for part in (cache_control or "").split(",")
    }
    if "no-store" in directives:
        return CachePolicy(lookup=False, store=False)
    if "no-cache" in directives:
        return CachePolicy(lookup=False, store=True)
    return CachePolicy()


def cache_key(exchange: Exchange) -> str:
    """The hex SHA-256 naming this request's answer within the client's scope."""
    body = exchange.body
    request = {name: value for name, value in body.items() if name not in NOT_IN_KEY}
    if exchange.model is not None:
        request["model"] = exchange.model.model_id
    for name in ("system", "tools"):
        if isinstance(request.get(name), list):
            request[name] = _unmarked(request[name])
    if isinstance(request.get("messages"), list):
        request["messages"] = [_unmarked_message(m) for m in request["messages"]]

    material = {
        "scope": exchange.client.cache_scope,
        "beta": sorted(_beta_features(exchange.anthropic_beta)),
        "request": request,
    }
    encoded = orjson.dumps(material, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(encoded).hexdigest()


def storable(exchange: Exchange, message: dict) -> bool:
    """Whether an answer may be served again to the same request."""
    return (
        not exchange.fallback
        and exchange.status == 200
        and exchange.error_type is None
        and message.get("type") == "message"
        and isinstance(message.get("content"), list)
        and message.get("stop_reason") in STORABLE_STOP_REASONS
    )


@dataclass(eq=False)
class _Flight:
    """One upstream call that concurrent identical requests wait for."""

    leader: Exchange
    done: asyncio.Future
    token: str | None = None


class ResponseCache:
    """Looks up and stores answers around the upstream call."""

    def __init__(
        self,
        store: CacheStore,
        *,
        ttl_seconds: int,
        lock_seconds: float,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.entries = store
        self.ttl_seconds = ttl_seconds
        self.lock_seconds = lock_seconds
        # Both are attributes so tests drive polling without real waiting.
        self.sleep = sleep
        self.clock = clock
        self._flights: dict[str, _Flight] = {}

    async def lookup(self, exchange: Exchange) -> dict | None:
        """The cached answer (a HIT), or None after deciding MISS or BYPASS."""
        policy = request_policy(exchange.cache_control_header)
        exchange.cache_status = BYPASS
        if not policy.store:
            return None
        exchange.cache_key = key = cache_key(exchange)
        if not policy.lookup:
            return None

        flight = self._flights.get(key)
        if flight is not None:
            message = await self._follow(flight)
        else:
            message = await self._lead(exchange, key)
        if message is None:
            exchange.cache_status = MISS
            return None
        return self._hit(exchange, message)

    def recorder(self, exchange: Exchange) -> MessageAccumulator | None:
        """An accumulator for a stream whose answer should be stored."""
        if exchange.cache_key is None or exchange.cache_status == HIT:
            return None
        if not request_policy(exchange.cache_control_header).store:
            return None
        return MessageAccumulator()

    async def store(self, exchange: Exchange, message: dict) -> bool:
        """Store a fresh answer and hand it to requests waiting for it."""
        key = exchange.cache_key
        if key is None or exchange.cache_status == HIT:
            return False
        if not storable(exchange, message):
            await self.finish(exchange)
            return False

        token = self._step_down(exchange, message)
        return await self._set(key, orjson.dumps(message), token)

    async def finish(self, exchange: Exchange) -> None:
        """End the exchange's flight without an answer; safe to call twice."""
        token = self._step_down(exchange, None)
        if token is None:
            return
        try:
            await self.entries.release(exchange.cache_key, token)
        except StoreUnavailable:
            pass  # The lock expires by itself within CACHE_LOCK_SECONDS.

    async def _follow(self, flight: _Flight) -> dict | None:
        try:
            return await asyncio.wait_for(
                asyncio.shield(flight.done), timeout=self.lock_seconds
            )
        except TimeoutError:
            return None

    async def _lead(self, exchange: Exchange, key: str) -> dict | None:
        # The flight exists before the first await, so identical requests of
        # this process arriving meanwhile follow it instead of asking the store.
        flight = _Flight(exchange, asyncio.get_running_loop().create_future())
        self._flights[key] = flight
        _abandon_when_task_ends(self, key, flight)

        try:
            found = await self.entries.get_or_lock(key, lock_seconds=self.lock_seconds)
        except StoreUnavailable:
            logger.warning("response cache unavailable; treating as a miss")
            return None
        if found.token is not None:
            flight.token = found.token
            return None
        if found.value is not None:
            message = _decode(found.value)
        else:
            # Another replica is asking upstream the same question right now.
            message = await self._poll(key)
        if message is not None:
            self._resolve(key, flight, message)
        return message

    async def _poll(self, key: str) -> dict | None:
        deadline = self.clock() + self.lock_seconds
        interval = POLL_FIRST_SECONDS
        while self.clock() < deadline:
            await self.sleep(interval)
            try:
                peek = await self.entries.peek(key)
            except StoreUnavailable:
                return None
            if peek.value is not None:
                return _decode(peek.value)
            if not peek.locked:
                return None
            interval = min(interval * 2, POLL_MAX_SECONDS)
        return None

    def _step_down(self, exchange: Exchange, message: dict | None) -> str | None:
        """Hand ``message`` to the followers if the exchange leads; its lock token."""
        key = exchange.cache_key
        flight = self._flights.get(key) if key is not None else None
        if flight is None or flight.leader is not exchange:
            return None
        return self._resolve(key, flight, message)

    def _resolve(self, key: str, flight: _Flight, message: dict | None) -> str | None:
        """Wake the followers and forget the flight; the lock token to release."""
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.done.done():
            flight.done.set_result(message)
        token, flight.token = flight.token, None
        return token

    def _hit(self, exchange: Exchange, message: dict) -> dict:
        exchange.cache_status = HIT
        exchange.served_model = message.get("model")
        exchange.usage = Usage.from_anthropic(message.get("usage"))
        return message

    async def _set(self, key: str, value: bytes, token: str | None) -> bool:
        try:
            stored = await self.entries.set(
                key, value, ttl_seconds=self.ttl_seconds, token=token
            )
        except StoreUnavailable:
            logger.warning("response cache unavailable; answer not stored")
            return False
        if not stored:
            logger.info(
                "answer too large for the response cache", extra={"size": len(value)}
            )
        return stored


def _abandon_when_task_ends(cache: ResponseCache, key: str, flight: _Flight) -> None:
    """Free the followers when the leader's task ends without an answer.

    A cancelled request (the client went away) never reaches settlement, so
    without this its followers would wait for the full lock time.
    """
    task = asyncio.current_task()
    if task is None:
        return

    def abandon(_: asyncio.Task) -> None:
        token = cache._resolve(key, flight, None)
        if token is not None:
            asyncio.ensure_future(_release_quietly(cache.entries, key, token))

    task.add_done_callback(abandon)


async def _release_quietly(store: CacheStore, key: str, token: str) -> None:
    try:
        await store.release(key, token)
    except StoreUnavailable:
        pass  # The lock expires by itself within CACHE_LOCK_SECONDS.


def _decode(value: bytes) -> dict | None:
    try:
        message = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return message if isinstance(message, dict) else None


def _beta_features(header: str | None) -> set[str]:
    return {part.strip() for part in (header or "").split(",") if part.strip()}


def _unmarked(blocks: list) -> list:
    """The blocks without ``cache_control``; the same list when none has one."""
    marked = any(
        isinstance(b, dict) and ("cache_control" in b or "content" in b) for b in blocks
    )
    if not marked:
        return blocks
    return [_unmarked_block(block) for block in blocks]


def _unmarked_block(block: object) -> object:
    if not isinstance(block, dict):
        return block
    clean = {name: value for name, value in block.items() if name != "cache_control"}
    if isinstance(clean.get("content"), list):
        clean["content"] = _unmarked(clean["content"])
    return clean


def _unmarked_message(message: object) -> object:
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return message
    return {**message, "content": _unmarked(message["content"])}


def cached_reply(message: dict) -> UpstreamReply:
    """A stored answer in the shape a provider returns a fresh one."""
    return UpstreamReply(message=message, raw=orjson.dumps(message))
