"""Inspector repairs over many instances and across versions: batch operations started from the
instance list (the rows ticked, or every instance the list's filter matches) with a preview count
and a confirmation, a batch page with live progress, and the migration form (one instance, or a
batch). All of it goes through engine/actions/batches.py and engine/actions/migration.py — the
same code the admin, the CLI and the API call. Refusals are form errors; nothing half-written.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engine.actions import batches
from engine.actions import migration as migration_actions
from engine.errors import ActionError, InvalidInput, NotFound
from engine.migration import Step
from engine.models import BatchOperation, Incident, ProcessDefinition, ProcessInstance
from engine.queries import inspector as q
from engine.queries import migration as mq
from engine.rights import Right
from flowsync.audit import Actor
from inspector.access import InspectorContext, inspector_view
from inspector.forms import InstanceFilterForm

Kind = BatchOperation.Kind
KINDS = {
    Kind.CANCEL_INSTANCES: "Cancel",
    Kind.RESOLVE_INCIDENTS: "Resolve incidents",
    Kind.RETRY_JOBS: "Retry failed jobs",
    Kind.MIGRATE_INSTANCES: "Migrate to another version",
    Kind.MODIFY_INSTANCES: "Move tokens (modify)",
    Kind.SET_VARIABLES: "Set variables",
}
CHECK_AT_MOST = 100  # a batch migration's plan is tried on this many instances before it is queued
LIVE_SECONDS = 2


def _ctx(request: HttpRequest) -> InspectorContext:
    return request.inspector  # type: ignore[attr-defined,no-any-return]


def _actor(request: HttpRequest) -> Actor:
    return Actor.of_user(request.user)


# -- the selection ---------------------------------------------------------------------------------------
class Selection:
    """What the list sent: ticked rows, or "all matching" the list's filter (its query string, `q`)."""

    def __init__(self, ctx: InspectorContext, data: QueryDict):
        self.scope = "filter" if data.get("scope") == "filter" else "selected"
        self.query = data.get("q", "")[:4000]
        self.picked = [int(k) for k in data.getlist("instance") if k.isdigit() and len(k) < 20]
        self.error = ""
        if self.scope == "filter":
            form = InstanceFilterForm(QueryDict(self.query))
            if not form.is_valid():
                self.error = "The list's filter is not valid; correct it on the list first."
                base: QuerySet[ProcessInstance] = ProcessInstance.objects.none()
            else:
                base = q.filtered_instances(ctx.tenant_ids, form.filters())
        else:
            base = ProcessInstance.objects.filter(tenant_id__in=ctx.tenant_ids, key__in=self.picked)
            if not self.picked:
                self.error = "Tick at least one instance, or choose all instances matching the filter."
        self.instances = base.filter(state=ProcessInstance.State.ACTIVE).order_by("key")

    def keys(self) -> list[int]:
        return list(self.instances.values_list("key", flat=True)[: batches.MAX_KEYS + 1])

    def hidden(self) -> list[tuple[str, str]]:
        """The fields that carry this selection through the preview form."""
        fields = [("scope", self.scope), ("q", self.query)]
        return fields + [("instance", str(k)) for k in self.picked]

    def back(self) -> str:
        return reverse("inspector:instances") + (f"?{self.query}" if self.query else "")

    def describe(self) -> dict[str, Any]:
        return {"scope": self.scope, "filter": self.query} if self.scope == "filter" else {"scope": "selected"}


def _open_incidents(ctx: InspectorContext, selection: Selection) -> QuerySet[Incident]:
    return Incident.objects.filter(tenant_id__in=ctx.tenant_ids, state=Incident.State.ACTIVE,
                                   process_instance_key__in=selection.instances.values("key")).order_by("key")


def _source_definition(selection: Selection) -> ProcessDefinition | None:
    found = list(selection.instances.order_by().values_list("definition_id", flat=True).distinct()[:2])
    return ProcessDefinition.objects.get(pk=found[0]) if len(found) == 1 else None


# -- mapping (one instance or a batch) ---------------------------------------------------------------------
def _mapping_from(data: QueryDict, rows: list[mq.MappingRow]) -> list[tuple[str, str]]:
    out = []
    for row in rows:
        value = data.get(f"map-{row.source_id}", "")
        if value:
            out.append((row.source_id, value))
    return out


def _mapping_context(source: ProcessDefinition, data: QueryDict, ctx: InspectorContext,
                     instances: Any) -> dict[str, Any]:
    """Versions to choose from, the mapping rows, and what each row's select shows: the operator's choice
    once they sent the mapping, else the pre-filled target (same id and kind)."""
    versions = mq.target_versions(ctx.tenant.pk, source)
    target = next((v for v in versions if str(v.key) == data.get("target", "")), None)
    rows = mq.mapping_rows(*mq.graphs(source.key, target.key), instances) if target else []
    sent = "mapped" in data and not data.get("show")
    chosen = {r.source_id: (data.get(f"map-{r.source_id}", "") if sent else r.prefill) for r in rows}
    return {"source": source, "versions": versions, "target": target, "rows": rows, "chosen": chosen}


# -- batch: preview and start ------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@inspector_view
def batch_new(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    data = request.POST if request.method == "POST" else request.GET
    kind = data.get("kind", "")
    selection = Selection(ctx, data)
    if kind not in KINDS:
        messages.error(request, "Choose what to do with the selected instances.")
        return redirect(selection.back())
    if selection.error:
        messages.error(request, selection.error)
        return redirect(selection.back())
    count = selection.instances.count()
    errors: list[str] = []
    context: dict[str, Any] = {}
    if kind in (Kind.RESOLVE_INCIDENTS, Kind.RETRY_JOBS):
        context["incidents"] = _open_incidents(ctx, selection).count()
    if kind == Kind.MIGRATE_INSTANCES:
        source = _source_definition(selection)
        if source is None and count:
            messages.error(request, "A migration moves instances of one process version: filter the list by "
                                    "process and version first, then select.")
            return redirect(selection.back())
        if source is not None:
            context.update(_mapping_context(source, data, ctx, selection.instances.values("key")))
    if request.method == "POST" and count:
        try:
            ctx.require(Right.OPERATE, "start batch operations")
            params = _params(kind, data, context, selection, errors)
            if data.get("confirm") != "yes":
                errors.append("Tick the box to confirm.")
            if not errors:
                keys = selection.keys()
                # Incidents and jobs are the items of those kinds: the selected instances' open ones.
                if kind == Kind.RESOLVE_INCIDENTS:
                    keys = list(_open_incidents(ctx, selection).values_list("key", flat=True)[: batches.MAX_KEYS + 1])
                elif kind == Kind.RETRY_JOBS:
                    keys = list(_open_incidents(ctx, selection).filter(job_key__isnull=False)
                                .values_list("job_key", flat=True)[: batches.MAX_KEYS + 1])
                batch = batches.start_batch(ctx.tenant, ctx.role, kind, keys, _actor(request), params,
                                            selection=selection.describe())
                messages.success(request, f"Batch {batch.pk} queued: {KINDS[kind].lower()} for "
                                          f"{len(batch.keys)} item(s).")
                return redirect("inspector:batch", pk=batch.pk)
        except ActionError as exc:
            errors.append(exc.detail)
    elif request.method == "POST":
        errors.append("No active instance is selected any more.")
    return render(request, "inspector/batch_new.html", {
        "ctx": ctx, "nav": "batches", "kind": kind, "kind_label": KINDS[kind], "count": count,
        "selection": selection, "errors": errors, "data": data, **context,
    }, status=400 if errors else 200)


def _params(kind: str, data: QueryDict, context: dict[str, Any], selection: Selection,
            errors: list[str]) -> dict[str, Any]:
    if kind == Kind.SET_VARIABLES:
        try:
            variables = json.loads(data.get("variables") or "")
        except ValueError as exc:
            errors.append(f"Variables: not valid JSON ({exc}).")
            return {}
        if not isinstance(variables, dict) or not variables:
            errors.append('Variables: give a JSON object with at least one name, e.g. {"priority": "high"}.')
        return {"variables": variables}
    if kind == Kind.RETRY_JOBS:
        raw = (data.get("retries") or "").strip()
        if not raw.isdigit() or not 1 <= int(raw) <= 1000:
            errors.append("Retries: a whole number from 1 to 1000.")
            return {}
        return {"retries": int(raw)}
    if kind == Kind.MODIFY_INSTANCES:
        source, target = (data.get("source") or "").strip(), (data.get("target_element") or "").strip()
        if not source or not target:
            errors.append("Give the element to move tokens from and the element to move them to.")
        return {"moveInstructions": [{"sourceElementId": source, "targetElementId": target}]}
    if kind == Kind.MIGRATE_INSTANCES:
        target = context.get("target")
        if target is None:
            errors.append("Choose the version to migrate to.")
            return {}
        mapping = _mapping_from(data, context["rows"])
        # Try the plan on the selected instances (up to CHECK_AT_MOST) so refusals show here, not per item later.
        for key in selection.instances.values_list("key", flat=True)[:CHECK_AT_MOST]:
            try:
                migration_actions.check([target.tenant_id], key, target.key, mapping)
            except ActionError as exc:
                errors.append(f"Instance {key}: {exc.detail}")
                break
        return {"targetProcessDefinitionKey": str(target.key),
                "mappingInstructions": [{"sourceElementId": s, "targetElementId": t} for s, t in mapping]}
    return {}


# -- batch pages -------------------------------------------------------------------------------------------
def _batch(ctx: InspectorContext, pk: int) -> BatchOperation:
    batch = BatchOperation.objects.filter(tenant_id__in=ctx.tenant_ids, pk=pk).first()
    if batch is None:
        raise NotFound(f"no batch operation {pk}")
    return batch


@require_GET
@inspector_view
def batch_list(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    rows = BatchOperation.objects.filter(tenant_id__in=ctx.tenant_ids).order_by("-id")[:50]
    return render(request, "inspector/batch_list.html", {"ctx": ctx, "nav": "batches", "batches": rows,
                                                          "kinds": KINDS})


@require_GET
@inspector_view
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ctx = _ctx(request)
    batch = _batch(ctx, pk)
    handled = len(batch.done) + len(batch.skipped) + len(batch.failed)
    total = len(batch.keys)
    return render(request, "inspector/batch_detail.html", {
        "ctx": ctx, "nav": "batches", "b": batch, "kind_label": KINDS.get(batch.kind, batch.kind),
        "handled": handled, "total": total, "percent": int(100 * handled / total) if total else 100,
        "failed": sorted(batch.failed.items())[:500], "skipped": sorted(batch.skipped.items())[:500],
        "live": batch.state in (BatchOperation.State.QUEUED, BatchOperation.State.RUNNING),
        "live_seconds": LIVE_SECONDS, "refreshed_at": timezone.localtime(),
    })


STEERS = {"cancel": batches.cancel_batch, "suspend": batches.suspend_batch, "resume": batches.resume_batch,
          "rerun": batches.rerun_failed}


@require_POST
@inspector_view
def batch_steer(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    ctx = _ctx(request)
    batch = _batch(ctx, pk)
    steer = STEERS.get(action)
    if steer is None:
        raise NotFound(f"no batch action '{action}'")
    try:
        steer(batch, ctx.role, _actor(request))
    except ActionError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Batch {batch.pk}: {action} done.")
    return redirect("inspector:batch", pk=batch.pk)


# -- one instance: migration form --------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@inspector_view
def instance_migrate(request: HttpRequest, key: int) -> HttpResponse:
    """Pick the target version, map the elements (pre-filled where ids match), check (dry run), migrate."""
    ctx = _ctx(request)
    instance = q.get_instance(ctx.tenant_ids, key)
    data = request.POST if request.method == "POST" else request.GET
    context = _mapping_context(instance.definition, data, ctx, [instance.key])
    errors: list[str] = []
    steps: list[Step] = []
    if instance.state != ProcessInstance.State.ACTIVE:
        errors.append(f"Process instance {key} is {instance.state}; only an active instance can migrate.")
    elif request.method == "POST":
        target = context["target"]
        try:
            if target is None:
                raise InvalidInput("Choose the version to migrate to.")
            mapping = _mapping_from(data, context["rows"])
            if data.get("action") == "migrate":
                ctx.require(Right.OPERATE, "migrate process instances")
                migration_actions.migrate_instance(ctx.tenant_ids, key, target.key, mapping, _actor(request),
                                                   timezone.now())
                messages.success(request, f"Migration to version {target.version} sent to the engine.")
                return redirect(reverse("inspector:instance", args=[key]))
            _, _, steps = migration_actions.check(ctx.tenant_ids, key, target.key, mapping)
        except ActionError as exc:
            errors.append(exc.detail)
    names = mq.element_labels(context["target"]) if context["target"] else {}
    return render(request, "inspector/instance_migrate.html", {
        "ctx": ctx, "nav": "instances", "i": instance, "errors": errors, "steps": steps, "data": data,
        "target_names": names, **context,
    }, status=400 if errors else 200)
