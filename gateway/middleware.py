"""Request-scoped middleware.

The API surfaces under ``/v1/`` need none of Django's session, CSRF, auth or
message middleware, and in async mode each of those costs a thread hop per
request. ``api_exempt`` wraps them so they run only for the admin and the
dashboard.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from asgiref.sync import markcoroutinefunction
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.decorators import sync_and_async_middleware

from gateway.asgi_handler import API_PREFIXES
from gateway.ids import random_hex
from gateway.logs import client_id_var, request_id_var

GetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def new_request_id() -> str:
    return "req_" + random_hex(12)


def request_id_for(request: HttpRequest) -> str:
    return safe_request_id(request.headers.get("X-Request-ID", ""))


def safe_request_id(given: str) -> str:
    """Honour a well-formed client id; anything else could inject into logs."""
    return given if _SAFE_REQUEST_ID.match(given) else new_request_id()


@sync_and_async_middleware
def RequestContextMiddleware(get_response):  # noqa: N802 - Django middleware factory
    """Give every request an id, bind it to the log context, echo it back."""

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        request_id = request_id_for(request)
        request.request_id = request_id
        id_token = request_id_var.set(request_id)
        client_token = client_id_var.set("-")
        try:
            response = await get_response(request)
        finally:
            request_id_var.reset(id_token)
            client_id_var.reset(client_token)

        response["X-Request-ID"] = request_id
        return response

    return middleware


def api_exempt(middleware_class: type) -> type:
    """Wrap a Django middleware so requests to the API surfaces skip it."""

    class ApiExempt:
        async_capable = True
        sync_capable = False

        def __init__(self, get_response: GetResponse) -> None:
            self.get_response = get_response
            self.inner = middleware_class(get_response)
            # Django's middleware detects async neighbours by this marker.
            markcoroutinefunction(self)

        async def __call__(self, request: HttpRequest) -> HttpResponseBase:
            if request.path.startswith(API_PREFIXES):
                return await self.get_response(request)
            return await self.inner(request)

    ApiExempt.__name__ = ApiExempt.__qualname__ = (
        f"ApiExempt{middleware_class.__name__}"
    )
    return ApiExempt


ApiExemptSecurityMiddleware = api_exempt(SecurityMiddleware)
ApiExemptSessionMiddleware = api_exempt(SessionMiddleware)
ApiExemptCommonMiddleware = api_exempt(CommonMiddleware)
ApiExemptCsrfViewMiddleware = api_exempt(CsrfViewMiddleware)
ApiExemptAuthenticationMiddleware = api_exempt(AuthenticationMiddleware)
ApiExemptMessageMiddleware = api_exempt(MessageMiddleware)
ApiExemptXFrameOptionsMiddleware = api_exempt(XFrameOptionsMiddleware)
