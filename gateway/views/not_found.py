"""Unknown paths under ``/v1/``: a 404 in the error shape the caller expects.

Without this, Django answers with its HTML page, which neither SDK can parse
into an error object.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from gateway.errors import NotFound
from gateway.views.chat import render_openai_error
from gateway.views.rendering import render_anthropic_error


async def api_not_found(request: HttpRequest) -> HttpResponse:
    error = NotFound(
        f"There is no API endpoint at {request.method} {request.path[:200]}; "
        "the endpoints are described at /openapi.json."
    )
    if (
        request.path.startswith("/v1/messages")
        or "anthropic-version" in request.headers
    ):
        return render_anthropic_error(
            error, request_id=getattr(request, "request_id", None)
        )
    return render_openai_error(error)
