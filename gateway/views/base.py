"""The async DRF base view of the API surfaces.

Each surface subclasses ``SurfaceView`` and names the renderer that turns the
gateway's exceptions into its own error shape.
"""

from __future__ import annotations

import logging

import orjson
from adrf.views import APIView
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from rest_framework import exceptions as drf_exceptions
from rest_framework.renderers import JSONRenderer

from gateway.errors import (
    AuthenticationFailed,
    GatewayError,
    InvalidRequest,
    NotFound,
)

logger = logging.getLogger(__name__)

_JSON_RENDERER = JSONRenderer()


class SurfaceView(APIView):
    """Async DRF view whose errors render in the surface's own shape."""

    surface = "openai"

    async def async_dispatch(self, request: HttpRequest, *args, **kwargs):
        # adrf runs ``initial`` through ``sync_to_async``, a thread hop per
        # request. With no DRF authentication, permission or throttle classes
        # configured, ``initial`` does no I/O, so it is called directly here.
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            self.initial(request, *args, **kwargs)
            handler = getattr(
                self, request.method.lower(), self.http_method_not_allowed
            )
            response = await handler(request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)

        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def perform_content_negotiation(self, request, force=False):
        # Every answer of the API surfaces is JSON or an event stream the view
        # builds itself; DRF's negotiation would only spend time confirming it.
        return _JSON_RENDERER, "application/json"

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise InvalidRequest(f"Method {request.method} is not allowed here.")

    def handle_exception(self, exc: Exception) -> HttpResponseBase:
        error = as_gateway_error(exc)
        response = self.render_error(error)
        for name, value in error.headers.items():
            response[name] = value
        return response

    def render_error(self, error: GatewayError) -> HttpResponse:
        raise NotImplementedError


def as_gateway_error(exc: Exception) -> GatewayError:
    """Map anything raised in a view onto the gateway's exception tree."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(
        exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed
    ):
        return AuthenticationFailed()
    if isinstance(exc, drf_exceptions.NotFound):
        return NotFound()
    if isinstance(exc, drf_exceptions.APIException) and exc.status_code < 500:
        return InvalidRequest(str(exc.detail))

    logger.exception("unhandled error while serving a request")
    return GatewayError("The gateway hit an internal error; the request was not sent.")


def json_response(payload: object, *, status: int = 200) -> HttpResponse:
    return HttpResponse(
        orjson.dumps(payload), status=status, content_type="application/json"
    )


def gateway_key(request: HttpRequest) -> str | None:
    """The client's gateway key from ``Authorization: Bearer`` or ``x-api-key``."""
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def parse_json_object(request: HttpRequest) -> dict:
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None

    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body
