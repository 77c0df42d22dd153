"""``GET /health``: can this process serve, and what does it depend on."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from gateway.conf import config
from gateway.runtime import get_gateway
from gateway.services.pipeline import Gateway
from gateway.state.resilient import ERROR, redis_status
from gateway.views.base import json_response


async def health(request: HttpRequest) -> HttpResponse:
    gateway = get_gateway()
    anthropic_ready = gateway.dispatcher.providers["anthropic"].is_configured()
    breakers = await gateway.dispatcher.breaker_snapshot()

    redis = await redis_status(gateway.store)

    payload = {
        # Degraded: serving, but limits, breakers and cache are per process.
        "status": "degraded" if redis == ERROR else "ok",
        "environment": settings.ENVIRONMENT,
        "state_store": {"redis": redis},
        "anthropic": "ready" if anthropic_ready else "not_configured",
        "ollama": await _ollama_status(gateway),
        "circuit_breakers": breakers,
        "timestamp": datetime.now(tz=UTC).isoformat(),
    }
    return json_response(payload)


async def _ollama_status(gateway: Gateway) -> str:
    """``ok``, ``model_missing``, ``unreachable`` or ``disabled``."""
    provider = gateway.dispatcher.providers.get("ollama")
    if provider is None or not config().OLLAMA_FALLBACK_ENABLED:
        return "disabled"
    return await provider.probe()
