"""Django's ASGI handler, without a new worker thread per API request.

Django runs each request inside its own ``ThreadSensitiveContext``, which gives
every request a fresh single-thread executor for its synchronous parts (the
request signals, ``response.close``). Starting that thread costs more than the
rest of an API request put together. API requests do no synchronous work of
their own on the hot path, so they share the process-wide thread-sensitive
executor instead; admin and dashboard pages keep Django's behaviour.
"""

from __future__ import annotations

import django
from django.core.handlers.asgi import ASGIHandler

from gateway.middleware import API_PREFIXES


class GatewayASGIHandler(ASGIHandler):
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(API_PREFIXES):
            await self.handle(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def gateway_asgi_application() -> GatewayASGIHandler:
    django.setup(set_prefix=False)
    return GatewayASGIHandler()
