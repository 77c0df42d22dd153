"""``GET /metrics`` (JSON or Prometheus text) and the ``/dashboard`` page.

``/metrics`` is open unless ``METRICS_TOKEN`` is set, as scrape endpoints
usually are inside a private network; with the token set it needs
``Authorization: Bearer <METRICS_TOKEN>`` (Prometheus' ``authorization``
scrape option) or a staff session. The figures are aggregates: no client
names, prompts or keys appear in them.
"""

from __future__ import annotations

import hmac

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from gateway.conf import config
from gateway.runtime import get_gateway
from gateway.views.base import json_response
from monitoring import prometheus
from monitoring.monitor import monitor_for
from monitoring.status import breaker_snapshot


@require_GET
async def metrics_view(request: HttpRequest) -> HttpResponse:
    if not await _may_read_metrics(request):
        return _unauthorized()
    if _wants_text(request.headers.get("Accept", "")):
        return await _prometheus_response()

    monitor = monitor_for(get_gateway())
    return json_response(await monitor.metrics())


@require_GET
async def prometheus_view(request: HttpRequest) -> HttpResponse:
    if not await _may_read_metrics(request):
        return _unauthorized()
    return await _prometheus_response()


@staff_member_required
def dashboard_view(request: HttpRequest) -> HttpResponse:
    return render(request, "monitoring/dashboard.html", {"ws_path": "/ws/dashboard/"})


async def _prometheus_response() -> HttpResponse:
    monitor = monitor_for(get_gateway())
    totals, scope = await monitor.totals()
    breakers = await breaker_snapshot(monitor.gateway)
    text = prometheus.render(totals, breakers=breakers, scope=scope)
    return HttpResponse(text, content_type=prometheus.CONTENT_TYPE)


def _wants_text(accept: str) -> bool:
    """Prometheus asks for ``text/plain`` or OpenMetrics; browsers and SDKs
    ask for HTML, JSON or anything, and get JSON."""
    accept = accept.lower()
    return "text/plain" in accept or "application/openmetrics-text" in accept


async def _may_read_metrics(request: HttpRequest) -> bool:
    token = config().METRICS_TOKEN
    if not token:
        return True

    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        return True
    user = await request.auser()
    return bool(user.is_active and user.is_staff)


def _unauthorized() -> HttpResponse:
    response = json_response(
        {
            "error": {
                "message": "Metrics need a bearer token or a staff session.",
                "type": "authentication_error",
            }
        },
        status=401,
    )
    response["WWW-Authenticate"] = "Bearer"
    return response
