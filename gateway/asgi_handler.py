"""Django's ASGI handler, with less thread traffic on API requests.

Two per-request costs of Django's handler dominate a gateway request:

- Each request runs in its own ``ThreadSensitiveContext``, which starts a fresh
  worker thread for the request's synchronous parts. API requests share the
  process-wide thread-sensitive executor instead.
- ``request_started`` has synchronous receivers (``reset_queries``,
  ``close_old_connections``), so sending it is a hop to that thread. API
  requests touch the database only inside a few ``sync_to_async`` helpers,
  which tidy their own connection (``gateway.services.clients``,
  ``gateway.services.catalog``), so the receivers are skipped for them.

Admin and dashboard pages keep Django's behaviour in both respects.
"""

from __future__ import annotations

import django
from asgiref.sync import sync_to_async
from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections, reset_queries

API_PREFIXES = ("/v1/",)


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


class GatewayASGIHandler(ASGIHandler):
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and is_api_path(scope.get("path", "")):
            await self.handle(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _prepare_connections() -> None:
    reset_queries()
    close_old_connections()


async def _request_started(sender, scope=None, **kwargs) -> None:
    if scope is not None and is_api_path(scope.get("path", "")):
        return
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
