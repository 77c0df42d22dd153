"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tokensgate_site.settings")

import django  # noqa: E402

# The gateway's modules import Django models, so the app registry must be
# ready before the first of them is imported.
django.setup(set_prefix=False)

from gateway.asgi_handler import gateway_asgi_application  # noqa: E402

django_application = gateway_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from gateway.asgi_guard import BodySizeGuard  # noqa: E402
from monitoring.lifespan import lifespan_application  # noqa: E402
from monitoring.routing import websocket_urlpatterns  # noqa: E402

# Daphne reads a whole request body before it calls the application, so when
# it is the server the body size limit is applied inside it too.
if "daphne.server" in sys.modules:
    from gateway.daphne_guard import install as install_daphne_guard

    install_daphne_guard()

from gateway.runtime import warm_up  # noqa: E402

warm_up()

application = ProtocolTypeRouter(
    {
        # Oversized bodies get 413 before Django reads them (gateway/asgi_guard.py).
        "http": BodySizeGuard(django_application),
        # The dashboard socket authenticates with the admin session cookie, so it
        # must refuse pages of other origins (cross-site websocket hijacking).
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
        # Servers that speak lifespan flush request records on shutdown through it.
        "lifespan": lifespan_application,
    }
)
