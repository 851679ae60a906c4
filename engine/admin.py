"""Engine state in the admin: read-only, and scoped to the staff user's tenants
(flowsync.admin_scope). Changes go through engine actions (commands)."""

from django.contrib import admin

from engine.models import (
    Command,
    Deployment,
    ElementInstance,
    Event,
    Incident,
    Job,
    ProcessDefinition,
    ProcessInstance,
    Variable,
)
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


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["key", "tenant", "created_at"]
    list_filter = ["tenant"]


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
