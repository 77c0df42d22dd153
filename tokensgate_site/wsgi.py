"""WSGI entry point, for the admin only; the API surfaces need ASGI."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tokensgate_site.settings")

application = get_wsgi_application()
