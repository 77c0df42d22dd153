"""``GET /health``: can this process serve, and what does it depend on."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from gateway.conf import config
from gateway.runtime import get_gateway
from gateway.views.base import json_response


async def health(request: HttpRequest) -> HttpResponse:
    gateway = get_gateway()
    anthropic_ready = gateway.dispatcher.providers["anthropic"].is_configured()
    breakers = gateway.dispatcher.breaker_states()

    payload = {
        "status": "ok",
        "environment": settings.ENVIRONMENT,
        "state_store": {"redis": "ok" if config().REDIS_URL else "not_configured"},
        "anthropic": "ready" if anthropic_ready else "not_configured",
        "ollama": "enabled" if config().OLLAMA_FALLBACK_ENABLED else "disabled",
        "circuit_breakers": {target: {"state": s} for target, s in breakers.items()},
        "timestamp": datetime.now(tz=UTC).isoformat(),
    }
    return json_response(payload)
