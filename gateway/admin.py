from django.contrib import admin, messages

from gateway.models import ApiClient, ModelPrice
from gateway.services.clients import client_create, client_rotate_key


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "key_prefix",
        "is_active",
        "requests_per_minute",
        "tokens_per_minute",
        "daily_budget_usd",
        "monthly_budget_usd",
        "cache_scope",
        "optimization_mode",
        "last_used_at",
    )
    list_filter = ("is_active", "optimization_mode")
    search_fields = ("name", "key_prefix")
    readonly_fields = ("key_prefix", "created_at", "updated_at", "last_used_at")
    actions = ["rotate_keys"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return

        created, key = client_create(name=obj.name)
        obj.pk, obj.key_prefix, obj.key_hash = (
            created.pk,
            created.key_prefix,
            created.key_hash,
        )
        obj.created_at = created.created_at
        super().save_model(request, obj, form, True)
        self._show_key_once(request, obj.name, key)

    @admin.action(description="Rotate the key of the selected clients")
    def rotate_keys(self, request, queryset):
        for client in queryset:
            self._show_key_once(request, client.name, client_rotate_key(client=client))

    def _show_key_once(self, request, name: str, key: str) -> None:
        # The key is shown once, to the operator who created it, and never again.
        messages.warning(
            request, f"Key for {name} (copy it now, it is not stored): {key}"
        )


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = (
        "model_id",
        "provider",
        "input_price",
        "output_price",
        "cache_write_5m_price",
        "cache_write_1h_price",
        "cache_read_price",
        "min_cacheable_tokens",
        "max_output_tokens",
        "is_active",
    )
    list_filter = ("provider", "is_active")
    search_fields = ("model_id",)
