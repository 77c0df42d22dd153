"""Error rendering for the Anthropic surface."""

from __future__ import annotations

from django.http import HttpResponse

from gateway.errors import GatewayError
from gateway.views.base import json_response


def render_anthropic_error(error: GatewayError, *, request_id: str | None = None):
    payload = {
        "type": "error",
        "error": {"type": error.anthropic_type, "message": error.message},
    }
    if request_id:
        payload["request_id"] = request_id
    return json_response(payload, status=_anthropic_status(error))


def _anthropic_status(error: GatewayError) -> int:
    # Anthropic's SDK raises OverloadedError only for 529, so an overloaded
    # upstream keeps that status on this surface.
    if error.anthropic_type == "overloaded_error" and error.status == 503:
        return 529
    return error.status


__all__ = ["render_anthropic_error", "HttpResponse"]
