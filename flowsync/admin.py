from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from flowsync.admin_scope import TenantScopedAdmin, scoped_pks
from flowsync.models import ApiKey, Membership, Tenant
from flowsync.rights import Right


class MembershipInline(admin.TabularInline):
    """Members of a tenant; only its admins (and superusers) may change them."""

    model = Membership
    extra = 0
    autocomplete_fields = ["user"]

    def _administers(self, request: HttpRequest, tenant: Any) -> bool:
        pks = scoped_pks(request, Right.ADMINISTER)
        return pks is None or (tenant is not None and tenant.pk in pks)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_add_permission(request, obj) and self._administers(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._administers(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._administers(request, obj)


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_path = "pk"
    list_display = ["tenant_id", "name", "created_at"]
    search_fields = ["tenant_id", "name"]
    inlines = [MembershipInline]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    list_display = ["name", "client_id", "tenant", "role", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["tenant"]
    search_fields = ["name", "client_id"]
    readonly_fields = ["client_id", "created_at", "last_used_at"]
    actions = ["revoke"]

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):  # type: ignore[no-untyped-def]
        from django.utils import timezone

        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} API key(s); their Basic credentials and tokens stop working now.")

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        if change:
            return super().save_model(request, obj, form, change)
        # A new key gets a generated secret, shown to the operator exactly once.
        key, secret = ApiKey.issue(obj.tenant, obj.name, obj.role)
        obj.pk, obj.client_id = key.pk, key.client_id
        self.message_user(request, f"API key created. Client id: {key.client_id} — secret (shown only now): {secret}")

    def get_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return (
            ["tenant", "name", "role"]
            if obj is None
            else ["tenant", "name", "role", "client_id", "created_at", "last_used_at", "revoked_at"]
        )
