"""Reading breaker states and system status for ``/metrics`` and the dashboard."""

from __future__ import annotations

import inspect
import logging

from gateway.conf import config
from gateway.services.pipeline import Gateway
from gateway.state.backend import RedisBackend

logger = logging.getLogger(__name__)

BREAKER_FIELDS = ("state", "failures_in_window", "cooldown_remaining_s", "total_trips")


async def breaker_snapshot(gateway: Gateway) -> dict[str, dict]:
    """Each target's breaker as ``{state, failures_in_window, cooldown_remaining_s,
    total_trips}``; fields the dispatcher does not report are ``None``."""
    dispatcher = gateway.dispatcher
    reader = getattr(dispatcher, "breaker_snapshot", None)
    if reader is None:
        states = dispatcher.breaker_states()
        return {target: _breaker(state=state) for target, state in states.items()}

    snapshot = reader()
    if inspect.isawaitable(snapshot):
        snapshot = await snapshot
    return {target: _breaker(**_as_dict(value)) for target, value in snapshot.items()}


def _as_dict(value: object) -> dict:
    if isinstance(value, dict):
        return value
    return {name: getattr(value, name, None) for name in BREAKER_FIELDS}


def _breaker(**fields: object) -> dict:
    breaker = {name: fields.get(name) for name in BREAKER_FIELDS}
    state = breaker["state"]
    breaker["state"] = getattr(state, "value", state)
    if isinstance(breaker["state"], str):
        breaker["state"] = breaker["state"].lower()
    return breaker


async def system_status(gateway: Gateway) -> dict[str, str]:
    """Gateway, state store, Anthropic and Ollama, as the dashboard shows them."""
    anthropic = gateway.dispatcher.providers.get("anthropic")
    anthropic_ready = anthropic is not None and anthropic.is_configured()
    return {
        "gateway": "ok",
        "state_store": await _state_store_status(gateway),
        "anthropic": "ready" if anthropic_ready else "not_configured",
        "ollama": "enabled" if config().OLLAMA_FALLBACK_ENABLED else "disabled",
    }


async def _state_store_status(gateway: Gateway) -> str:
    store = gateway.store
    if store is None or not isinstance(store.backend, RedisBackend):
        return "memory"
    return "redis ok" if await store.backend.ping() else "redis error"
