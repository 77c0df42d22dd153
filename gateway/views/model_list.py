"""``GET /v1/models``, in a shape both official SDKs' ``models.list()`` accept.

Each entry carries OpenAI's fields (``object``, ``created``, ``owned_by``) and
Anthropic's (``type``, ``display_name``, ``created_at``, and the newer API's
``lifecycle``, ``max_input_tokens``, ``max_tokens``); each SDK reads its own
and ignores the others. Every model is listed on one page (``has_more`` is
false), so the Anthropic SDK's auto-pagination stops after it. Errors use
Anthropic's shape when the caller sent an ``anthropic-version`` header,
OpenAI's otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse

from gateway.errors import GatewayError
from gateway.runtime import get_gateway
from gateway.services.catalog import ModelInfo
from gateway.views.base import SurfaceView, gateway_key, json_response
from gateway.views.chat import render_openai_error
from gateway.views.rendering import render_anthropic_error


class ModelListView(SurfaceView):
    async def get(self, request: HttpRequest) -> HttpResponse:
        gateway = get_gateway()
        await gateway.authenticate(gateway_key(request))
        await gateway.catalog.refresh_if_stale()

        entries = [_entry(info) for info in gateway.catalog.models()]
        return json_response(
            {
                "object": "list",
                "data": entries,
                "has_more": False,
                "first_id": entries[0]["id"] if entries else None,
                "last_id": entries[-1]["id"] if entries else None,
            }
        )

    def render_error(self, error: GatewayError) -> HttpResponse:
        if "anthropic-version" in self.request.headers:
            request_id = getattr(self.request, "request_id", None)
            return render_anthropic_error(error, request_id=request_id)
        return render_openai_error(error)


def _entry(info: ModelInfo) -> dict:
    created = datetime.fromtimestamp(info.created, tz=UTC)
    return {
        "id": info.model_id,
        "object": "model",
        "type": "model",
        "created": info.created,
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "owned_by": info.provider,
        "display_name": info.model_id,
        "lifecycle": "active",
        "max_input_tokens": info.context_window,
        "max_tokens": info.max_output_tokens,
        "aliases": list(info.aliases),
        "context_window": info.context_window,
        "max_output_tokens": info.max_output_tokens,
    }
