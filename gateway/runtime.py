"""The process-wide gateway, built once on first use.

Providers hold connection pools, and the catalog and client directory hold
in-process caches, so one ``Gateway`` serves every request of a process.
"""

from __future__ import annotations

from gateway.providers.anthropic import AnthropicProvider
from gateway.services.catalog import ModelCatalog
from gateway.services.clients import ClientDirectory
from gateway.services.dispatch import Dispatcher
from gateway.conf import config
from gateway.services.pipeline import Gateway
from gateway.state.store import build_state_store

_gateway: Gateway | None = None


def build_gateway() -> Gateway:
    providers = {"anthropic": AnthropicProvider()}
    store = build_state_store(config().REDIS_URL)
    gateway = Gateway(
        catalog=ModelCatalog(),
        clients=ClientDirectory(),
        dispatcher=Dispatcher(providers),
        store=store,
    )
    # Each optional stage is attached here, once its feature exists.
    return gateway


def get_gateway() -> Gateway:
    global _gateway
    if _gateway is None:
        _gateway = build_gateway()
    return _gateway


def reset_gateway() -> None:
    """Forget the process's gateway, so the next request builds a fresh one."""
    global _gateway
    _gateway = None
