"""Flow triggers and webhook deliveries in the admin, for superusers only (secrets are shown to them).

Changes go through engine.actions.flows (enable, disable, rotate the secret), as from the API.
Registered by engine/admin.py (Django's admin autodiscovery imports only that module).
"""

from django.contrib import admin, messages
from django.utils import timezone

from engine.actions import flows as actions
from engine.models import FlowTrigger, WebhookDelivery


class SuperuserOnly(admin.ModelAdmin):
    list_per_page = 50
    show_full_result_count = False

    def has_module_permission(self, request):  # type: ignore[no-untyped-def]
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(FlowTrigger)
class FlowTriggerAdmin(SuperuserOnly):
    list_display = ("flow_id", "trigger_id", "kind", "enabled", "auth", "tenant", "updated_at")
    list_filter = ("kind", "enabled", "auth")
    search_fields = ("flow_id", "trigger_id")
    readonly_fields = ("tenant", "flow_id", "trigger_id", "kind", "enabled", "auth", "token", "secret", "config",
                       "created_at", "updated_at")
    actions = ("enable", "disable", "rotate_secret")

    def _each(self, request, queryset, what: str, do) -> None:  # type: ignore[no-untyped-def]
        now = timezone.now()
        for trigger in queryset:
            do(trigger, now)
        self.message_user(request, f"{what}: {queryset.count()} trigger(s)", messages.SUCCESS)

    @admin.action(description="Enable the selected triggers")
    def enable(self, request, queryset):  # type: ignore[no-untyped-def]
        self._each(request, queryset, "enabled", lambda t, now: actions.set_trigger_enabled(
            t.tenant, t.flow_id, t.trigger_id, True, now))

    @admin.action(description="Disable the selected triggers")
    def disable(self, request, queryset):  # type: ignore[no-untyped-def]
        self._each(request, queryset, "disabled", lambda t, now: actions.set_trigger_enabled(
            t.tenant, t.flow_id, t.trigger_id, False, now))

    @admin.action(description="Rotate the secret of the selected triggers")
    def rotate_secret(self, request, queryset):  # type: ignore[no-untyped-def]
        self._each(request, queryset, "secret rotated", lambda t, now: actions.rotate_secret(
            t.tenant, t.flow_id, t.trigger_id, now))


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(SuperuserOnly):
    list_display = ("received_at", "trigger", "outcome", "delivery_id", "process_instance_key", "body_bytes")
    list_filter = ("outcome",)
    search_fields = ("delivery_id", "trigger__flow_id")
    list_select_related = ("trigger",)
    readonly_fields = ("tenant", "trigger", "received_at", "delivery_id", "outcome", "detail", "body_bytes",
                       "process_instance_key")
