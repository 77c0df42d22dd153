"""``GET /openapi.json``: the OpenAPI 3.1 description of both API surfaces.

The document is written by hand in ``docs/openapi.json``, next to the prose
documentation it summarises, and read once per process.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

OPENAPI_PATH = settings.BASE_DIR / "docs" / "openapi.json"


@require_GET
async def openapi_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(openapi_document(), content_type="application/json")


@lru_cache(maxsize=1)
def openapi_document() -> bytes:
    return OPENAPI_PATH.read_bytes()
