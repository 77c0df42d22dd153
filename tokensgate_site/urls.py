from django.contrib import admin
from django.urls import path

from gateway.views.chat import ChatCompletionsView
from gateway.views.health import health
from gateway.views.model_list import ModelListView

urlpatterns = [
    path("v1/chat/completions", ChatCompletionsView.as_view()),
    path("v1/models", ModelListView.as_view()),
    path("health", health),
    path("admin/", admin.site.urls),
]
