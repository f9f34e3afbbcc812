"""Admin for the clients area: API tokens listed, created (token shown once) and revoked."""
from django.contrib import admin, messages

from recsys.clients.auth import token_cache_clear
from recsys.clients.models import ApiClient
from recsys.clients.services import api_client_create


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ("name", "scope", "key_prefix", "is_active", "created_at", "last_used_at")
    list_filter = ("scope", "is_active")
    search_fields = ("name", "key_prefix")
    search_help_text = "Client name, or the first characters of its token."
    readonly_fields = ("key_prefix", "created_at", "last_used_at")
    actions = ("revoke", "reinstate")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "scope")
        return ("name", "scope", "is_active", "key_prefix", "created_at", "last_used_at")

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            token_cache_clear()  # a revocation or scope change takes effect in this process at once
            return
        client, key = api_client_create(name=obj.name, scope=obj.scope)
        obj.pk = client.pk
        self.message_user(request, f"Token for {client.name!r} (shown once, store it now): {key}", messages.WARNING)

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        revoked = queryset.update(is_active=False)
        token_cache_clear()  # at once in this process; others within CURIO_TOKEN_CACHE_SECONDS
        self.message_user(request, f"{revoked} token(s) revoked.")

    @admin.action(description="Reinstate selected tokens")
    def reinstate(self, request, queryset):
        self.message_user(request, f"{queryset.update(is_active=True)} token(s) reinstated.")
