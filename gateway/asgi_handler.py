"""Django's ASGI handler, with less thread traffic on API requests.

Two per-request costs of Django's handler dominate a gateway request:

- Each request runs in its own ``ThreadSensitiveContext``, which starts a fresh
  worker thread for the request's synchronous parts. API requests share the
  process-wide thread-sensitive executor instead.
- ``request_started`` and ``request_finished`` have synchronous receivers
  (``reset_queries``, ``close_old_connections``, ``close_caches``), so each is
  a hop to that thread. API requests touch the database only inside a few
  ``sync_to_async`` helpers, which tidy their own connection
  (``gateway.services.clients``, ``gateway.services.catalog``), and use no
  Django cache, so neither signal is sent for them.

Admin and dashboard pages keep Django's behaviour in both respects.
"""

from __future__ import annotations

import asyncio

import django
from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import close_old_connections, reset_queries
from django.urls import set_script_prefix

API_PREFIXES = ("/v1/",)


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


class GatewayASGIHandler(ASGIHandler):
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and is_api_path(scope.get("path", "")):
            await self.handle_api(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def handle_api(self, scope, receive, send) -> None:
        """Django's ``handle``, without the request signals and their hops."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return

        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            _release(error_response)
            return

        try:
            response = await self._respond_unless_disconnected(request, receive, send)
        finally:
            body_file.close()
        if response is not None:
            _release(response)

    async def _respond_unless_disconnected(self, request, receive, send):
        """Serve the request; a client that hangs up cancels the work."""
        disconnect = asyncio.create_task(self.listen_for_disconnect(receive))
        serving = asyncio.create_task(self._serve(request, send))
        await asyncio.wait((disconnect, serving), return_when=asyncio.FIRST_COMPLETED)

        for task in (disconnect, serving):
            if not task.done():
                task.cancel()
            try:
                await task
            except (asyncio.CancelledError, RequestAborted):
                pass
        return None if serving.cancelled() else serving.result()

    async def _serve(self, request, send):
        response = await self.run_get_response(request)
        try:
            await self.send_response(response, send)
        except asyncio.CancelledError:
            pass  # the client left while the answer was being sent
        return response


def _release(response) -> None:
    """``HttpResponse.close`` without ``request_finished``."""
    for closer in response._resource_closers:
        try:
            closer()
        except Exception:  # noqa: BLE001 - as Django's close: never fail the exchange
            pass
    response.closed = True


def _prepare_connections() -> None:
    reset_queries()
    close_old_connections()


async def _request_started(sender, **kwargs) -> None:
    # Only pages reach this (API requests send no signal): one hop, not two.
    await sync_to_async(_prepare_connections)()


def _replace_request_started_receivers() -> None:
    signals.request_started.disconnect(reset_queries)
    signals.request_started.disconnect(close_old_connections)
    signals.request_started.connect(
        _request_started, dispatch_uid="tokensgate-request-started"
    )


def gateway_asgi_application() -> GatewayASGIHandler:
    django.setup(set_prefix=False)
    _replace_request_started_receivers()
    return GatewayASGIHandler()
