"""Engine state in the admin: read-only, and scoped to the staff user's tenants
(flowsync.admin_scope). Changes go through engine actions (commands)."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from engine.models import (
    Command,
    Deployment,
    ElementInstance,
    Event,
    Form,
    Incident,
    Job,
    ProcessDefinition,
    ProcessInstance,
    ProcessRetention,
    Variable,
    WorkerHeartbeat,
)
from engine.queries import status
from flowsync.admin_scope import TenantScopedAdmin


class ReadOnlyAdmin(TenantScopedAdmin):
    list_per_page = 50
    show_full_result_count = False  # COUNT(*) over millions of rows is the slow part of a changelist

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    # A typed or bookmarked add/delete URL of an engine table: back to the list with a plain
    # message, not a PermissionDenied (which Django logs with a traceback).
    def _read_only(self, request):  # type: ignore[no-untyped-def]
        opts = self.model._meta
        self.message_user(
            request,
            f"{opts.verbose_name_plural.capitalize()} are engine state and read-only here: changes go through the "
            "Inspector or the REST API.",
            messages.WARNING,
        )
        return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))

    def add_view(self, request, form_url="", extra_context=None):  # type: ignore[no-untyped-def]
        return self._read_only(request)

    def delete_view(self, request, object_id, extra_context=None):  # type: ignore[no-untyped-def]
        return self._read_only(request)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class DeployedProcessInline(ReadOnlyInline):
    model = ProcessDefinition
    verbose_name = "deployed process"
    verbose_name_plural = "Deployed processes"
    fields = ["resource_name", "bpmn_process_id", "version", "name", "kind", "key"]
    readonly_fields = fields


class DeployedFormInline(ReadOnlyInline):
    model = Form
    verbose_name = "deployed form"
    verbose_name_plural = "Deployed forms"
    fields = ["resource_name", "form_id", "version", "kind", "key"]
    readonly_fields = fields


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["key", "tenant", "created_at", "resources"]
    list_filter = ["tenant"]
    inlines = [DeployedProcessInline, DeployedFormInline]

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).prefetch_related("definitions", "forms")

    @admin.display(description="Resources")
    def resources(self, obj: Deployment) -> str:
        names = sorted({d.resource_name for d in obj.definitions.all()} | {f.resource_name for f in obj.forms.all()})
        return ", ".join(names) or "—"


@admin.register(ProcessDefinition)
class ProcessDefinitionAdmin(ReadOnlyAdmin):
    list_display = ["bpmn_process_id", "version", "name", "kind", "tenant", "resource_name", "created_at"]
    list_filter = ["tenant", "kind"]
    search_fields = ["bpmn_process_id", "name", "=key"]


@admin.register(ProcessInstance)
class ProcessInstanceAdmin(ReadOnlyAdmin):
    list_display = ["key", "definition", "business_key", "state", "has_incident", "start_date", "end_date", "tenant"]
    list_filter = ["state", "has_incident", "tenant"]
    search_fields = ["=key", "business_key", "definition__bpmn_process_id"]
    list_select_related = ["definition", "tenant"]


@admin.register(ElementInstance)
class ElementInstanceAdmin(ReadOnlyAdmin):
    list_display = ["key", "element_id", "element_type", "state", "process_instance_id", "start_date", "end_date"]
    list_filter = ["state", "element_type"]
    search_fields = ["=key", "=process_instance__key", "element_id"]


@admin.register(Variable)
class VariableAdmin(ReadOnlyAdmin):
    list_display = ["name", "value", "scope_key", "process_instance_id"]
    search_fields = ["name", "=process_instance__key"]


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["key", "type", "state", "retries", "worker", "deadline", "element_id", "process_instance_key"]
    list_filter = ["state", "tenant"]  # not "type": its choices would list other tenants' job types
    search_fields = ["=key", "=process_instance_key", "type"]


@admin.register(Command)
class CommandAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "state", "process_instance_key", "actor", "created_at", "processed_at"]
    list_filter = ["state", "kind", "tenant"]
    search_fields = ["=id", "=process_instance_key"]


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["id", "command_kind", "process_instance_key", "created_at"]
    list_filter = ["command_kind"]
    search_fields = ["=process_instance_key"]


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["key", "error_type", "state", "element_id", "process_instance_key", "created_at"]
    list_filter = ["state", "error_type", "tenant"]
    search_fields = ["=key", "=process_instance_key", "error_message"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    """Engine worker processes (deployment-wide, so for superusers only): a lost one stands out."""

    list_display = ["id", "state", "host", "pid", "version", "started_at", "last_seen", "commands_applied",
                    "current_batch"]
    ordering = ["-last_seen"]

    @admin.display(description="state")
    def state(self, obj: WorkerHeartbeat) -> str:
        if obj.stopped_at:
            return "stopped"
        silent = (timezone.now() - obj.last_seen).total_seconds()
        return "LOST" if silent > status.lost_seconds() else "alive"

    def has_view_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return request.user.is_superuser

    def has_module_permission(self, request):  # type: ignore[no-untyped-def]
        return request.user.is_superuser


@admin.register(ProcessRetention)
class ProcessRetentionAdmin(TenantScopedAdmin):
    """Per-process overrides of a tenant's history retention (engine/store/retention.py)."""

    list_display = ["bpmn_process_id", "tenant", "days"]
    list_filter = ["tenant"]
    search_fields = ["bpmn_process_id"]
from engine import admin_flows  # noqa: E402,F401  (flow triggers and deliveries, superusers only)
