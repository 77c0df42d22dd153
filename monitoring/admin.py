"""Request records in admin, with spend per client, model and day.

The spend tables above the list follow the list's filters and search, so
"spend per model for client X last week" is two clicks.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from monitoring.models import RequestRecord
from monitoring.selectors import spend_summary


@admin.register(RequestRecord)
class RequestRecordAdmin(admin.ModelAdmin):
    change_list_template = "monitoring/admin/request_record_change_list.html"
    date_hierarchy = "time"
    list_display = (
        "time",
        "client_name",
        "surface",
        "model",
        "provider",
        "status",
        "cache_status",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "cost_usd",
        "cost_avoided_usd",
        "latency_ms",
        "fallback",
    )
    list_filter = (
        "surface",
        "provider",
        "model",
        "status",
        "cache_status",
        "fallback",
        "client",
    )
    search_fields = ("request_id", "client_name", "model")
    list_select_related = False
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Records are evidence of what happened; admin shows them, never edits.
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and "cl" in response.context_data:
            records = response.context_data["cl"].queryset
            response.context_data["spend"] = spend_summary(records)
        return response
