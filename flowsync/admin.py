from django.contrib import admin

from flowsync.models import ApiKey, Membership, Tenant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["tenant_id", "name", "created_at"]
    search_fields = ["tenant_id", "name"]
    inlines = [MembershipInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
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
