"""The process-wide gateway, built once on first use.

Providers hold connection pools, and the catalog and client directory hold
in-process caches, so one ``Gateway`` serves every request of a process.
"""

from __future__ import annotations

import gc

from gateway.conf import config
from gateway.providers.anthropic import AnthropicProvider
from gateway.providers.ollama import OllamaProvider
from gateway.services.breaker import CircuitBreaker, breaker_policy
from gateway.services.catalog import ModelCatalog
from gateway.services.clients import ClientDirectory
from gateway.services.dispatch import Dispatcher
from gateway.services.limits import Limiter
from gateway.services.optimizer import Optimizer
from gateway.services.pipeline import Gateway
from gateway.services.response_cache import ResponseCache
from gateway.services.tokens import encoding
from gateway.state.store import StateStore, build_state_store
from monitoring.monitor import attach_monitoring

_gateway: Gateway | None = None


def build_gateway() -> Gateway:
    providers = {"anthropic": AnthropicProvider(), "ollama": OllamaProvider()}
    store = build_state_store(config().REDIS_URL)
    catalog = ModelCatalog()
    gateway = Gateway(
        catalog=catalog,
        clients=ClientDirectory(),
        dispatcher=Dispatcher(providers, breaker=_breaker(store), catalog=catalog),
        store=store,
    )
    # Each optional stage is attached here, once its feature exists.
    gateway.limiter = Limiter(store.limits)
    gateway.optimizer = Optimizer()
    gateway.response_cache = _response_cache(store)
    attach_monitoring(gateway)
    return gateway


def _response_cache(store: StateStore) -> ResponseCache | None:
    settings = config()
    if not settings.CACHE_ENABLED:
        return None
    return ResponseCache(
        store.cache,
        ttl_seconds=settings.CACHE_TTL_SECONDS,
        lock_seconds=settings.CACHE_LOCK_SECONDS,
    )


def _breaker(store: StateStore) -> CircuitBreaker:
    settings = config()
    return CircuitBreaker(
        store.breakers,
        breaker_policy(settings),
        enabled=settings.CIRCUIT_BREAKER_ENABLED,
    )


def get_gateway() -> Gateway:
    global _gateway
    if _gateway is None:
        _gateway = build_gateway()
    return _gateway


def warm_up() -> None:
    """Build what the first request would, then take it out of the collector's view.

    Without this the first request pays for the gateway and the tokenizer
    (about 40 MB and a second of loading). ``gc.freeze`` moves every object
    alive now, Django's and the gateway's, to a generation the collector no
    longer scans, which shortens the full collections that showed as pauses
    of 100 ms and more under load.
    """
    get_gateway()
    encoding()
    gc.freeze()


def reset_gateway() -> None:
    """Forget the process's gateway, so the next request builds a fresh one."""
    global _gateway
    _gateway = None
