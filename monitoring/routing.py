"""Websocket routes of the monitoring app, mounted in ``tokensgate_site.asgi``."""

from django.urls import path

from monitoring.consumers import DashboardConsumer

websocket_urlpatterns = [
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
]
