"""Flows in the admin: flows (start a run with a form built from `inputs`, deactivate or activate a whole
flow; tenant-scoped, with the role's rights), and their triggers and webhook deliveries (superusers only:
secrets are shown; enable, disable, rotate, replay a delivery).

Changes go through engine.actions.flows, as from the API. Registered by engine/admin.py (Django's admin
autodiscovery imports only that module).
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from engine import rights
from engine.actions import flows as actions
from engine.audit import Actor
from engine.errors import ActionError
from engine.flows.start_form import problem_errors, start_form
from engine.models import Flow, FlowTrigger, ProcessDefinition, WebhookDelivery
from engine.rights import Right
from flowsync.admin_scope import TenantScopedAdmin


def _run_link(key: int) -> str:
    try:
        return format_html('<a href="{}">{}</a>', reverse("inspector:instance", args=[key]), key)
    except NoReverseMatch:
        return str(key)


@admin.register(Flow)
class FlowAdmin(TenantScopedAdmin):
    """Every version of every JSON flow; the actions act on whole flows (all their versions)."""

    list_display = ("bpmn_process_id", "version", "name", "deactivated", "tenant", "created_at")
    list_filter = ("tenant", "deactivated")
    search_fields = ("bpmn_process_id", "name")
    list_per_page = 50
    show_full_result_count = False
    actions = ("deactivate_flows", "activate_flows")
    fields = ("bpmn_process_id", "version", "name", "deactivated", "tenant", "created_at", "source")
    readonly_fields = fields
    change_form_template = "admin/engine/flow/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(kind=ProcessDefinition.Kind.DAG)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list:
        return [path("<int:pk>/start/", self.admin_site.admin_view(self.start_view), name="engine_flow_start"),
                *super().get_urls()]

    def start_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Start a run of this version with a form built from its `inputs` schema; errors show on the form."""
        definition = get_object_or_404(self.get_queryset(request).select_related("tenant"), pk=pk)
        form = start_form(definition)
        values: Any = {}
        errors: dict[str, list[str]] = {}
        if request.method == "POST":
            values, errors = form.parse(request.POST)
            if not errors:
                try:
                    rights.require(rights.role_in(request.user, definition.tenant_id), Right.START, "start runs")
                    instance = actions.start_run(definition.tenant, definition.bpmn_process_id, dict(values),
                                                 Actor.of_user(request.user), timezone.now(), definition.version)
                except ActionError as exc:
                    errors = problem_errors(form, exc.extra.get("problems") or [], exc.detail)  # type: ignore[arg-type]
                else:
                    self.message_user(request, format_html("Started run {} of {} v{}.", _run_link(instance.key),
                                                           definition.bpmn_process_id, definition.version))
                    return HttpResponseRedirect(reverse("admin:engine_flow_change", args=[definition.pk]))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "original": definition,
                   "title": f"Start {definition.bpmn_process_id} v{definition.version} ({definition.tenant})",
                   "form_html": form.render(values, errors)}
        return TemplateResponse(request, "admin/engine/flow/start.html", context, status=422 if errors else 200)

    def _set(self, request: HttpRequest, queryset: QuerySet, active: bool) -> None:
        actor, done = Actor.of_user(request.user), set()
        for tenant_id, flow_id in queryset.values_list("tenant_id", "bpmn_process_id").distinct():
            if (tenant_id, flow_id) in done:
                continue
            done.add((tenant_id, flow_id))
            try:
                rights.require(rights.role_in(request.user, tenant_id), Right.DEPLOY, "activate or deactivate flows")
                actions.set_flow_active([tenant_id], flow_id, active, actor, timezone.now())
            except ActionError as exc:
                self.message_user(request, f"{flow_id}: {exc.detail}", messages.ERROR)
                done.discard((tenant_id, flow_id))
        names = ", ".join(sorted(f for _, f in done)) or "none"
        self.message_user(request, f"{'Activated' if active else 'Deactivated'} flow(s): {names}.")

    @admin.action(description="Deactivate the selected flows (all versions, their triggers)", permissions=["view"])
    def deactivate_flows(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set(request, queryset, False)

    @admin.action(description="Activate the selected flows again", permissions=["view"])
    def activate_flows(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set(request, queryset, True)


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
    fields = ("tenant", "trigger", "received_at", "delivery_id", "outcome", "detail", "body_bytes",
              "process_instance_key", "content_type", "headers", "kept_body")
    readonly_fields = fields
    actions = ("replay",)

    @admin.display(description="body (kept for replay)")
    def kept_body(self, obj: WebhookDelivery) -> str:
        if obj.body is None:
            return "not kept (over the size limit)"
        return bytes(obj.body).decode("utf-8", errors="replace")

    @admin.action(description="Replay the selected deliveries (a new run each)")
    def replay(self, request, queryset):  # type: ignore[no-untyped-def]
        actor = Actor.of_user(request.user)
        for delivery in queryset:
            try:
                replayed = actions.replay_delivery([delivery.tenant_id], delivery.pk, actor, timezone.now())
            except ActionError as exc:
                self.message_user(request, f"delivery {delivery.pk}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(request, format_html("Delivery {} replayed: run {}.", delivery.pk,
                                                       _run_link(replayed.process_instance_key)), messages.SUCCESS)
