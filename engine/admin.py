"""Engine state in the admin: read-only, and scoped to the staff user's tenants
(flowsync.admin_scope). Changes go through engine actions (commands): the admin actions below
start batches (engine.actions.batches) or call one action, with the rights of the user's role in
the row's tenant (engine.rights) and an audit entry each (via=admin)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.views.main import ChangeList
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from engine import rights
from engine.actions.batches import cancel_batch, resume_batch, start_batch, suspend_batch
from engine.actions.definitions import set_deactivated
from engine.actions.instances import start_instance
from engine.actions.variables import set_variables
from engine.audit import Actor
from engine.bpmn import DefinitionError
from engine.connectors.policy import masked_request_variables
from engine.definitions.deploy import Resource, deploy
from engine.errors import ActionError
from engine.graph import ELEMENT_TYPES
from engine.models import (
    BatchOperation,
    Command,
    DecisionDefinition,
    DecisionInstance,
    DecisionRequirements,
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
from engine.models.incidents import ERROR_TYPES as INCIDENT_ERROR_TYPES
from engine.queries import status
from engine.rights import Right
from flowsync.admin import AuditEntryAdmin
from flowsync.admin_keyset import KeysetAdmin
from flowsync.admin_scope import TenantScopedAdmin, scoped_pks
from flowsync.models import AuditEntry, Tenant


def inspector_link(key: int) -> str:
    try:
        url = reverse("inspector:instance", args=[key])
    except NoReverseMatch:
        return str(key)
    return format_html('<a href="{}">{}</a>', url, key)


def start_batches(admin_: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, kind: str,
                  params: dict | None = None) -> None:
    """One background batch per tenant of the selected rows (all of them already in the user's tenants)."""
    keys: dict[int, list[int]] = defaultdict(list)
    processes: dict[int, str] = {}
    for tenant_id, key, process_id in queryset.order_by().values_list("tenant_id", "key", admin_.process_path):
        keys[tenant_id].append(key)
        processes[key] = process_id
    actor = Actor.of_user(request.user)
    for tenant in Tenant.objects.filter(pk__in=list(keys)).order_by("tenant_id"):
        allowed = rights.rights_of(request.user, tenant.pk)
        # Per-process grants (engine.rights): only the rows of processes this user may operate on.
        mine = [k for k in keys[tenant.pk] if allowed.allows_on(Right.OPERATE, processes[k])]
        if len(mine) < len(keys[tenant.pk]):
            admin_.message_user(request, f"{tenant}: {len(keys[tenant.pk]) - len(mine)} selected row(s) belong to "
                                         "processes you may not operate on; left unchanged.", messages.WARNING)
        if not mine and allowed.anywhere(Right.OPERATE):
            continue
        try:
            batch = start_batch(tenant, allowed, kind, mine, actor, params)
        except ActionError as exc:
            admin_.message_user(request, f"{tenant}: {exc.detail}", messages.ERROR)
            continue
        url = reverse("admin:engine_batchoperation_change", args=[batch.pk])
        admin_.message_user(request, format_html(
            '{}: {} of {} row(s) queued as <a href="{}">batch {}</a>; it shows progress and the result.',
            tenant, batch.get_kind_display(), len(batch.keys), url, batch.pk))


class RetriesActionForm(ActionForm):
    retries = forms.IntegerField(min_value=1, max_value=1000, required=False, initial=3,
                                 help_text="new retries (for “retry jobs”)")


class VariablesForm(forms.Form):
    variables = forms.CharField(widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
                                help_text='A JSON object, e.g. {"approved": true, "amount": 120}')

    def clean_variables(self) -> dict[str, Any]:
        try:
            value = json.loads(self.cleaned_data["variables"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
        if not isinstance(value, dict) or not value:
            raise forms.ValidationError("expected a non-empty JSON object of variable names to values")
        return value


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def clean(self, data: Any, initial: Any = None) -> list:
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data]
        return [super().clean(data, initial)]


class DeployForm(forms.Form):
    tenant = forms.ModelChoiceField(queryset=Tenant.objects.none())
    files = MultipleFileField(widget=MultipleFileInput(attrs={"accept": ".bpmn,.xml,.dmn,.form,.json"}),
                              help_text=".bpmn, .dmn, .form and .schema.json files, deployed together or not at all")

    def __init__(self, *args: Any, tenants: QuerySet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenants
        if tenants.count() == 1:
            self.fields["tenant"].initial = tenants.first()


class StartForm(forms.Form):
    variables = forms.CharField(widget=forms.Textarea(attrs={"rows": 6, "cols": 80}), required=False,
                                help_text='Optional: a JSON object, e.g. {"orderId": "A-1"}')
    business_id = forms.CharField(max_length=255, required=False, label="Business id")

    def clean_variables(self) -> dict[str, Any]:
        raw = self.cleaned_data["variables"].strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("expected a JSON object of variable names to values")
        return value


def form_page(admin_: admin.ModelAdmin, request: HttpRequest, title: str, form: forms.Form,
              **extra: Any) -> TemplateResponse:
    context = {**admin_.admin_site.each_context(request), "opts": admin_.model._meta, "form": form, "title": title,
               **extra}
    return TemplateResponse(request, "admin/engine/form_page.html", context)


def vocabulary_filter(field: str, title: str, choices: Any) -> type[admin.SimpleListFilter]:
    """A list filter whose choices come from a fixed vocabulary, never from the table: Django's filter on a
    plain CharField lists its values with SELECT DISTINCT over every row the user may see (millions here)."""

    class VocabularyFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
            return list(choices)

        def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
            return queryset.filter(**{field: self.value()}) if self.value() else queryset

    VocabularyFilter.title = title
    VocabularyFilter.__name__ = f"{field.title().replace('_', '')}Filter"
    return VocabularyFilter


class ReadOnlyAdmin(KeysetAdmin, TenantScopedAdmin):
    """Engine tables: read-only, tenant-scoped, keyset-paginated (fast at millions of rows, no full COUNT)."""

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


class DeployedDecisionsInline(ReadOnlyInline):
    model = DecisionRequirements
    verbose_name = "deployed decision requirements (DMN)"
    verbose_name_plural = "Deployed decisions (DMN)"
    fields = ["resource_name", "decision_requirements_id", "version", "name", "key"]
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
    inlines = [DeployedProcessInline, DeployedDecisionsInline, DeployedFormInline]
    change_list_template = "admin/engine/deployment/change_list.html"

    def get_urls(self) -> list:
        return [path("deploy/", self.admin_site.admin_view(self.deploy_view), name="engine_deployment_deploy"),
                *super().get_urls()]

    def deploy_view(self, request: HttpRequest) -> HttpResponse:
        """Upload and deploy files; problems are shown as the API reports them (file, line, element, message)."""
        tenants = Tenant.objects.filter(pk__in=rights.tenant_pks_with(request.user, Right.DEPLOY)).order_by("tenant_id")
        form = DeployForm(request.POST or None, request.FILES or None, tenants=tenants)
        problems: list[dict[str, Any]] = []
        resource = ""
        if request.method == "POST" and form.is_valid():
            resources = []
            for f in form.cleaned_data["files"]:
                if f.size is not None and f.size > settings.BPMN_MAX_BYTES:
                    form.add_error("files", f"'{f.name}' is larger than {settings.BPMN_MAX_BYTES} bytes")
                    break
                resources.append(Resource(name=(f.name or "resource.bpmn")[:255], content=f.read()))
            else:
                tenant = form.cleaned_data["tenant"]
                try:
                    rights.require(rights.role_in(request.user, tenant.pk), Right.DEPLOY, "deploy")
                    deployment, definitions = deploy(tenant, resources, timezone.now(), Actor.of_user(request.user))
                except DefinitionError as exc:
                    resource, problems = exc.resource_name, [p.as_dict() for p in exc.problems]
                except ActionError as exc:
                    form.add_error(None, exc.detail)
                else:
                    names = ", ".join(f"{d.bpmn_process_id} v{d.version}" for d in definitions) or "decisions or forms"
                    self.message_user(request, f"Deployed {names} (deployment {deployment.key}).")
                    return HttpResponseRedirect(reverse("admin:engine_deployment_change", args=[deployment.pk]))
        return form_page(self, request, "Deploy files", form, multipart=True, resource=resource, problems=problems)

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).prefetch_related("definitions", "forms", "decision_requirements")

    @admin.display(description="Resources")
    def resources(self, obj: Deployment) -> str:
        names = sorted({d.resource_name for d in obj.definitions.all()} | {f.resource_name for f in obj.forms.all()}
                       | {r.resource_name for r in obj.decision_requirements.all()})
        return ", ".join(names) or "—"


@admin.register(DecisionDefinition)
class DecisionDefinitionAdmin(ReadOnlyAdmin):
    list_display = ["decision_id", "version", "name", "decision_type", "version_tag", "tenant", "requirements",
                    "created_at"]
    list_filter = ["tenant", "decision_type"]
    search_fields = ["decision_id", "name", "=key"]
    list_select_related = ["tenant", "requirements"]


@admin.register(DecisionRequirements)
class DecisionRequirementsAdmin(ReadOnlyAdmin):
    list_display = ["decision_requirements_id", "version", "name", "resource_name", "tenant", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["decision_requirements_id", "name", "resource_name", "=key"]
    exclude = ["source"]


@admin.register(DecisionInstance)
class DecisionInstanceAdmin(ReadOnlyAdmin):
    """Every decision evaluated (by a business rule task or on request), with its inputs and matched rules."""

    list_display = ["__str__", "decision", "state", "process_instance", "element_id", "tenant", "evaluation_date"]
    list_filter = ["tenant", "state"]
    search_fields = ["=evaluation_key", "=process_instance_key", "decision__decision_id"]
    list_select_related = ["tenant", "decision"]

    @admin.display(description="Process instance")
    def process_instance(self, obj: DecisionInstance) -> str:
        return inspector_link(obj.process_instance_key) if obj.process_instance_key else "—"


@admin.register(ProcessDefinition)
class ProcessDefinitionAdmin(ReadOnlyAdmin):
    process_path = "bpmn_process_id"
    process_rights = (Right.READ, Right.START)  # a START grant shows the definition to start it from
    list_display = ["bpmn_process_id", "version", "name", "kind", "deactivated", "tenant", "resource_name",
                    "created_at"]
    list_filter = ["tenant", "kind", "deactivated"]
    search_fields = ["bpmn_process_id", "name", "=key"]
    actions = ["deactivate", "reactivate"]
    change_form_template = "admin/engine/processdefinition/change_form.html"

    def get_urls(self) -> list:
        return [path("<int:pk>/start/", self.admin_site.admin_view(self.start_view),
                     name="engine_processdefinition_start"), *super().get_urls()]

    def start_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Start an instance of this version; the result links to it in the Inspector."""
        definition = get_object_or_404(self.get_queryset(request).select_related("tenant"), pk=pk)
        form = StartForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                rights.require_on(rights.rights_of(request.user, definition.tenant_id), Right.START,
                                  definition.bpmn_process_id, "start instances")
                instance = start_instance(definition.tenant, definition, form.cleaned_data["variables"],
                                          Actor.of_user(request.user), timezone.now(),
                                          business_key=form.cleaned_data["business_id"])
            except ActionError as exc:
                form.add_error(None, exc.detail)
            else:
                self.message_user(request, format_html("Started instance {} of {} v{}.", inspector_link(instance.key),
                                                       definition.bpmn_process_id, definition.version))
                return HttpResponseRedirect(reverse("admin:engine_processdefinition_change", args=[definition.pk]))
        return form_page(self, request, f"Start {definition.bpmn_process_id} v{definition.version} "
                                        f"({definition.tenant})", form, original=definition)

    def _set(self, request: HttpRequest, queryset: QuerySet, deactivated: bool) -> None:
        changed, actor = 0, Actor.of_user(request.user)
        for definition in queryset.only("key", "tenant_id"):
            try:
                rights.require(rights.role_in(request.user, definition.tenant_id), Right.DEPLOY,
                               "deactivate or reactivate definitions")
                changed += set_deactivated([definition.tenant_id], definition.key, deactivated, actor, timezone.now())
            except ActionError as exc:
                self.message_user(request, f"{definition.key}: {exc.detail}", messages.ERROR)
        self.message_user(request, f"{'Deactivated' if deactivated else 'Reactivated'} {changed} definition "
                                   "version(s) for new instances.")

    @admin.action(description="Deactivate selected versions for new instances", permissions=["view"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set(request, queryset, True)

    @admin.action(description="Reactivate selected versions for new instances", permissions=["view"])
    def reactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set(request, queryset, False)


@admin.register(ProcessInstance)
class ProcessInstanceAdmin(ReadOnlyAdmin):
    process_path = "definition__bpmn_process_id"
    list_display = ["key", "definition", "business_key", "state", "has_incident", "start_date", "end_date", "tenant",
                    "inspect"]
    list_filter = ["state", "has_incident", "tenant"]
    # Exact matches (an index serves the key; "contains" would scan millions of rows).
    search_fields = ["=business_key", "=definition__bpmn_process_id"]
    list_select_related = ["definition", "tenant"]
    actions = ["cancel_instances"]
    change_form_template = "admin/engine/processinstance/change_form.html"

    @admin.display(description="Inspector")
    def inspect(self, obj: ProcessInstance) -> str:
        return inspector_link(obj.key)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        """A number is an instance key (the primary key: one probe); anything else a business id (exact, by the
        (tenant, business_key) index) or a process id (its definitions first: a small table, then their
        instances by the (tenant, definition) index). No upper(): a case-folded match could use no index."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.isdigit():
            return queryset.filter(key=int(term)), False
        definitions = list(ProcessDefinition.objects.filter(bpmn_process_id=term).values_list("key", flat=True))
        found = Q(business_key=term)
        return queryset.filter(found | Q(definition_id__in=definitions) if definitions else found), False

    @admin.action(description="Cancel selected instances (background batch)", permissions=["view"])
    def cancel_instances(self, request: HttpRequest, queryset: QuerySet) -> None:
        start_batches(self, request, queryset, BatchOperation.Kind.CANCEL_INSTANCES)

    def get_urls(self) -> list:
        return [path("<int:pk>/variables/", self.admin_site.admin_view(self.variables_view),
                     name="engine_processinstance_variables"), *super().get_urls()]

    def variables_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Set variables on the instance (its root scope) through the engine's action."""
        instance = get_object_or_404(self.get_queryset(request), pk=pk)
        form = VariablesForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                rights.require_on(rights.rights_of(request.user, instance.tenant_id), Right.OPERATE,
                                  instance.definition.bpmn_process_id, "set variables")
                set_variables([instance.tenant_id], instance.key, form.cleaned_data["variables"], True,
                              Actor.of_user(request.user), timezone.now())
            except ActionError as exc:
                form.add_error(None, exc.detail)
            else:
                self.message_user(request, f"Variables {', '.join(sorted(form.cleaned_data['variables']))} set on "
                                           f"instance {instance.key}; the engine applies them next.")
                return HttpResponseRedirect(reverse("admin:engine_processinstance_change", args=[instance.pk]))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "original": instance,
                   "form": form, "title": f"Set variables on instance {instance.key}"}
        return TemplateResponse(request, "admin/engine/processinstance/variables.html", context)


@admin.register(ElementInstance)
class ElementInstanceAdmin(ReadOnlyAdmin):
    list_display = ["key", "element_id", "element_type", "state", "process_instance_id", "start_date", "end_date"]
    list_filter = ["state", vocabulary_filter("element_type", "element type",
                                              [(t, t) for t in sorted(set(ELEMENT_TYPES.values()))])]
    search_fields = ["=key", "=process_instance__key", "element_id"]


@admin.register(Variable)
class VariableAdmin(ReadOnlyAdmin):
    list_display = ["name", "shown_value", "scope_key", "process_instance_id"]
    search_fields = ["name", "=process_instance__key"]
    exclude = ["value"]
    readonly_fields = ["shown_value"]

    @admin.display(description="value")
    def shown_value(self, obj: Variable) -> str:
        """The value; an element's local request inputs (an HTTP connector's headers, query, authentication)
        with their credentials masked, as the Inspector and the step logs show them."""
        if obj.scope_key == obj.process_instance_id:
            return json.dumps(obj.value)
        return json.dumps(masked_request_variables({obj.name: obj.value})[obj.name])


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    process_path = "bpmn_process_id"
    list_display = ["key", "type", "state", "retries", "worker", "deadline", "element_id", "process_instance_key"]
    list_filter = ["state", "tenant"]  # not "type": its choices would list other tenants' job types
    search_fields = ["=key", "=process_instance_key", "type"]
    action_form = RetriesActionForm
    actions = ["retry_jobs"]

    @admin.action(description="Retry selected jobs with the new retries (background batch)", permissions=["view"])
    def retry_jobs(self, request: HttpRequest, queryset: QuerySet) -> None:
        raw = request.POST.get("retries", "")
        if not raw.isdigit() or int(raw) < 1:
            self.message_user(request, "Give the new retries (a whole number of at least 1).", messages.ERROR)
            return
        start_batches(self, request, queryset, BatchOperation.Kind.RETRY_JOBS, {"retries": int(raw)})


@admin.register(Command)
class CommandAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "state", "process_instance_key", "actor", "created_at", "processed_at"]
    # "kind" from the fixed vocabulary: a plain "kind" filter lists its choices with SELECT DISTINCT kind over
    # every command of the tenant (88 ms of the page's SQL at 200,000 commands, growing with the table).
    list_filter = ["state", vocabulary_filter("kind", "kind", Command.Kind.choices), "tenant"]
    search_fields = ["=id", "=process_instance_key"]


CommandKindFilter = vocabulary_filter("command_kind", "command kind", Command.Kind.choices)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["id", "command_kind", "process_instance_key", "created_at"]
    list_filter = [CommandKindFilter]
    search_fields = ["=process_instance_key"]


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    process_path = "bpmn_process_id"
    list_display = ["key", "error_type", "state", "element_id", "process_instance_key", "created_at"]
    list_filter = ["state", vocabulary_filter("error_type", "error type",
                                              [(t, t) for t in sorted(INCIDENT_ERROR_TYPES)]), "tenant"]
    search_fields = ["=key", "=process_instance_key", "error_message"]

    actions = ["resolve_incidents"]

    @admin.action(description="Resolve selected incidents (background batch)", permissions=["view"])
    def resolve_incidents(self, request: HttpRequest, queryset: QuerySet) -> None:
        start_batches(self, request, queryset, BatchOperation.Kind.RESOLVE_INCIDENTS)


BATCH_LIVE_SECONDS = 2  # a running batch's page refreshes this often (htmx polling)


@admin.register(BatchOperation)
class BatchOperationAdmin(ReadOnlyAdmin):
    """Batches started here or from the CLI: progress and the result, per key."""

    list_display = ["id", "kind", "tenant", "state", "progress", "done_count", "skipped_count", "failed_count",
                    "actor", "created_at", "finished_at"]
    list_filter = ["state", "kind", "tenant"]
    fields = ["kind", "tenant", "state", "progress", "actor", "via", "request_id", "params", "selection",
              "created_at", "finished_at", "done", "skipped", "failed"]
    readonly_fields = fields
    actions = ["cancel_batches", "suspend_batches", "resume_batches"]

    change_form_template = "admin/engine/batchoperation/change_form.html"

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):  # type: ignore[no-untyped-def]
        batch = self.get_queryset(request).filter(pk=object_id).only("keys", "done", "skipped", "failed").first()
        handled = len(batch.done) + len(batch.skipped) + len(batch.failed) if batch else 0
        return super().change_view(request, object_id, form_url,
                                   {**(extra_context or {}), "handled": handled, "live_seconds": BATCH_LIVE_SECONDS})
    def _steer(self, request: HttpRequest, queryset: QuerySet, steer: Any, what: str) -> None:
        """The same steering as the Inspector and the API (engine/actions/batches.py), per batch."""
        for batch in queryset:
            try:
                steer(batch, rights.role_in(request.user, batch.tenant_id), Actor.of_user(request.user))
            except ActionError as exc:
                self.message_user(request, f"Batch {batch.pk}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(request, f"Batch {batch.pk} {what}.")

    @admin.action(description="Cancel selected batches", permissions=["view"])
    def cancel_batches(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._steer(request, queryset, cancel_batch, "cancelled")

    @admin.action(description="Suspend selected batches", permissions=["view"])
    def suspend_batches(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._steer(request, queryset, suspend_batch, "suspended")

    @admin.action(description="Resume selected batches", permissions=["view"])
    def resume_batches(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._steer(request, queryset, resume_batch, "resumed")

    @admin.display(description="done")
    def done_count(self, obj: BatchOperation) -> int:
        return len(obj.done)

    @admin.display(description="skipped")
    def skipped_count(self, obj: BatchOperation) -> int:
        return len(obj.skipped)

    @admin.display(description="failed")
    def failed_count(self, obj: BatchOperation) -> int:
        return len(obj.failed)


class AuditProcessFilter(admin.SimpleListFilter):
    """The audit trail of one process (every version): acts on its instances, on its definitions and its
    per-process rights. Lives here, not in flowsync's admin: it reads engine tables."""

    title = "process"
    parameter_name = "process"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        tenants = scoped_pks(request, Right.READ)
        definitions = ProcessDefinition.objects.all() if tenants is None else ProcessDefinition.objects.filter(
            tenant_id__in=tenants)
        ids = definitions.order_by("bpmn_process_id").values_list("bpmn_process_id", flat=True).distinct()
        return [(p, p) for p in ids]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        process = self.value()
        if not process:
            return queryset
        # Probes by key per audit entry (the instance's primary key), newest entries first.
        of_process = ProcessInstance.objects.filter(key=OuterRef("process_instance_key"),
                                                    tenant_id=OuterRef("tenant_id"),
                                                    definition__bpmn_process_id=process)
        definitions = ProcessDefinition.objects.filter(bpmn_process_id=process).values_list("key", flat=True)
        return queryset.filter(Exists(of_process)
                               | Q(target_type="process", target_key=process)
                               | Q(target_type="process-definition",
                                   target_key__in=[str(k) for k in definitions]))


class EngineAuditEntryAdmin(AuditEntryAdmin):
    """flowsync's audit trail with the per-process filter (per user: the who search, linked from each row)."""

    list_filter = [*AuditEntryAdmin.list_filter, AuditProcessFilter]


admin.site.unregister(AuditEntry)
admin.site.register(AuditEntry, EngineAuditEntryAdmin)


# The admin's index is the operator's dashboard (engine.queries.dashboard), above the model list.
admin.site.index_template = "admin/engine/dashboard.html"


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    """Engine worker processes (deployment-wide, so for superusers only): a lost one stands out."""

    list_display = ["id", "state", "host", "pid", "version", "started_at", "last_seen", "commands_applied",
                    "current_batch"]
    ordering = ["-last_seen"]

    def get_changelist(self, request, **kwargs):  # type: ignore[no-untyped-def]
        return ChangeList  # a few rows: Django's own list, ordered by last_seen

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


# Flow triggers and deliveries (superusers only); connector secrets (tenant admins, write-only values).
from engine import admin_flows, admin_secrets  # noqa: E402,F401
