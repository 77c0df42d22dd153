from django.contrib import admin
from django.urls import path, re_path

from gateway.views.chat import ChatCompletionsView
from gateway.views.health import health
from gateway.views.messages import CountTokensView, MessagesView
from gateway.views.model_list import ModelListView
from gateway.views.not_found import api_not_found
from gateway.views.openapi import openapi_view
from monitoring.views import dashboard_view, metrics_view, prometheus_view

urlpatterns = [
    path("v1/chat/completions", ChatCompletionsView.as_view()),
    path("v1/messages", MessagesView.as_view()),
    path("v1/messages/count_tokens", CountTokensView.as_view()),
    path("v1/models", ModelListView.as_view()),
    re_path(r"^v1/", api_not_found),
    path("openapi.json", openapi_view),
    path("health", health),
    path("metrics", metrics_view),
    path("metrics/prometheus", prometheus_view),
    path("dashboard", dashboard_view),
    path("admin/", admin.site.urls),
]
