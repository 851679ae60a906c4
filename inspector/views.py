"""Inspector pages: find instances, see one on its diagram with its timeline, and repair it.

Views are thin: ``inspector_view`` checks who is asking, reads go through engine.queries.inspector,
changes go through inspector.operations (engine actions). Every bad input becomes a form error or a
message, never a 500; every page works without JavaScript except the diagram.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engine import rights
from engine.actions import batches
from engine.actions.incidents import retry_incident
from engine.actions.instances import cancel_instance
from engine.actions.saved_filters import delete_filter, normalize_query, save_filter
from engine.errors import ActionError
from engine.models import BatchOperation, Incident, ProcessDefinition
from engine.queries import decisions as decision_queries
from engine.queries import engine_dashboard, status
from engine.queries import flows as flow_queries
from engine.queries import inspector as q
from engine.queries import inspector_element as element_q
from engine.queries import inspector_overview as overview
from engine.queries.definitions import get_definition
from engine.rights import Right, process_of
from engine.store import definition_counts
from flowsync.audit import Actor
from flowsync.sessions import switch_tenant as switch_session_tenant
from inspector import charts
from inspector.access import InspectorContext, inspector_view, operator_tenants, resolve
from inspector.batch_views import KINDS as BATCH_KINDS
from inspector.forms import (
    IncidentFilterForm,
    InstanceFilterForm,
    ModifyForm,
    RetryForm,
    SavedFilterForm,
    VariableForm,
)
from inspector.operations import modify, set_process_variable

Kind = BatchOperation.Kind
LIVE_SECONDS = 3  # how often an open page refreshes its live regions (htmx polling)
DASHBOARD_SECONDS = 10  # the engine dashboard reads an hour of figures: refreshed less often
HEATMAP_SECONDS = 5  # a version's heatmap: the counts of all its running instances (index-only, see overview)


def _ctx(request: HttpRequest) -> InspectorContext:
    return request.inspector  # type: ignore[attr-defined,no-any-return]


def _instance_url(key: int, anchor: str = "") -> str:
    return reverse("inspector:instance", args=[key]) + (f"#{anchor}" if anchor else "")


@require_GET
@inspector_view
def instance_list(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    form = InstanceFilterForm(request.GET or None)
    sort = q.DEFAULT_SORT
    page = q.Page([])
    counts = {"total": 0, "active": 0, "completed": 0, "terminated": 0, "with_incident": 0}
    valid = form.is_valid() if form.is_bound else True
    if valid and form.is_bound and not _follow_tenant(request, ctx, form.cleaned_data.get("tenant") or ""):
        form.add_error("tenant", "You cannot inspect that tenant.")
        valid = False
    if valid:
        ctx = _ctx(request)
        filters = form.filters() if form.is_bound else q.InstanceFilters()
        sort = q.normalize_sort((form.cleaned_data.get("sort") if form.is_bound else "") or "")
        found = q.filter_instances(ctx.tenant_ids, filters)
        qs = ctx.scoped(found.qs, "definition__bpmn_process_id")
        page = q.instance_page(qs, sort, after=request.GET.get("after", ""), before=request.GET.get("before", ""))
        # What the filter alone is known to match holds only where the person reads every process.
        counts = q.instance_counts(ctx.scoped(found.for_count, "definition__bpmn_process_id"),
                                   at_least=found.at_least if ctx.processes is None else 0)
    base = {k: v for k, v in request.GET.items() if k not in ("after", "before") and v}
    return render(request, "inspector/instance_list.html", {
        "ctx": ctx,
        "form": form,
        "page": page,
        "counts": counts,
        "sort": sort,
        "sort_links": _sort_links(base, sort),
        "sort_columns": [(name, column.label) for name, column in q.SORT_COLUMNS.items()],
        "definitions": [d for d in q.definition_choices(ctx.tenant_ids)
                        if ctx.processes is None or d[0] in ctx.processes],
        "next_url": "?" + urlencode({**base, "after": page.next_cursor}) if page.next_cursor else "",
        "prev_url": "?" + urlencode({**base, "before": page.prev_cursor}) if page.prev_cursor else "",
        "states": q.STATES,
        "var_ops": q.VARIABLE_OPS,
        "query": normalize_query(urlencode(base)),
        "saved": overview.saved_filters(ctx.tenant.pk, request.user.pk),
        "save_form": SavedFilterForm(),
        "live_seconds": LIVE_SECONDS,
        "batch_kinds": BATCH_KINDS,
        "nav": "instances",
    }, status=200 if valid else 400)


def _follow_tenant(request: HttpRequest, ctx: InspectorContext, wanted: str) -> bool:
    """A shared link names its tenant (`tenant=`): the list follows it when this person may inspect it."""
    if not wanted or wanted == ctx.tenant.tenant_id:
        return True
    if switch_session_tenant(request, ctx.tenants, wanted) is None:
        return False
    request.inspector = resolve(request) or ctx  # type: ignore[attr-defined]
    return True


def _sort_links(base: dict[str, str], current: str) -> dict[str, dict[str, str]]:
    """Per column: the URL that sorts by it (a second click reverses it) and its aria-sort state."""
    links = {}
    for column in q.SORT_COLUMNS:
        ascending = current == column
        descending = current == f"-{column}"
        target = f"-{column}" if ascending else column
        links[column] = {
            "url": "?" + urlencode({**{k: v for k, v in base.items() if k != "sort"}, "sort": target}),
            "aria": "ascending" if ascending else "descending" if descending else "none",
            "mark": "▲" if ascending else "▼" if descending else "",
        }
    return links


@require_POST
@inspector_view
def filter_save(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    form = SavedFilterForm(request.POST)
    query = request.POST.get("query", "")
    if not form.is_valid():
        messages.error(request, "Give the filter a name (at most 100 characters).")
    else:
        try:
            saved = save_filter(ctx.tenant.pk, request.user.pk, form.cleaned_data["name"], query, timezone.now())
        except ActionError as exc:
            messages.error(request, f"The filter was not saved: {exc.detail}")
        else:
            messages.success(request, f"Filter “{saved.name}” saved.")
            return redirect(reverse("inspector:instances") + (f"?{saved.query}" if saved.query else ""))
    return redirect(reverse("inspector:instances") + (f"?{normalize_query(query)}" if query else ""))


@require_POST
@inspector_view
def filter_delete(request: HttpRequest, pk: int) -> HttpResponse:
    ctx = _ctx(request)
    try:
        name = delete_filter(ctx.tenant.pk, request.user.pk, pk)
    except ActionError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Filter “{name}” deleted.")
    return redirect("inspector:instances")


@require_GET
@inspector_view
def instance_detail(request: HttpRequest, key: int) -> HttpResponse:
    ctx = _ctx(request)
    detail = q.instance_detail(ctx.tenant_ids, key)
    return _render_detail(request, ctx, detail)


def _modify_form(detail: q.InstanceDetail, data: Any = None) -> ModifyForm | None:
    if detail.instance.state != "ACTIVE":
        return None
    options = q.modification_options(detail)
    return ModifyForm(data, sources=options.sources, targets=options.targets)


def _render_detail(request: HttpRequest, ctx: InspectorContext, detail: q.InstanceDetail,
                   variable_form: VariableForm | None = None, status: int = 200,
                   modify_form: ModifyForm | None = None) -> HttpResponse:
    chosen = request.GET.get("element", "")
    return render(request, "inspector/instance_detail.html", {
        **_live_context(ctx, detail),
        "ancestors": element_q.ancestors(ctx.tenant_ids, detail.instance),
        # Without JavaScript an element is chosen by a link (?element=id); the diagram's click loads the same.
        "panel": element_q.element_panel(ctx.tenant_ids, detail.instance.key, chosen) if chosen else None,
        "modify_form": modify_form or _modify_form(detail),
        "decisions": decision_queries.instance_evaluations(ctx.tenant_ids, detail.instance.key),
        "ctx": ctx,
        "variable_form": variable_form or VariableForm(),
        "retry_form": RetryForm(),
        "editable": detail.instance.state == "ACTIVE",
        "nav": "instances",
        # A JSON flow run: its steps with each attempt and what the connector sent and got.
        "flow_steps": (flow_queries.steps(ctx.tenant_ids, detail.instance.key)
                       if detail.instance.definition.kind == ProcessDefinition.Kind.DAG else None),
    }, status=status)


def _live_context(ctx: InspectorContext, detail: q.InstanceDetail) -> dict[str, Any]:
    """What the refreshed regions of an instance page show (the whole page draws them the same way)."""
    timeline = q.timeline(ctx.tenant_ids, detail.instance.key)
    return {
        "d": detail,
        "i": detail.instance,
        "timeline": timeline,
        "names": q.element_names(detail.instance),
        "refreshed_at": timezone.localtime(),
        # Changes whenever the engine wrote something: the diagram redraws its overlays then.
        "live_version": f"{timeline[-1].event_id if timeline else 0}-{len(detail.active_incidents)}",
        "live_seconds": LIVE_SECONDS,
    }


@require_GET
@inspector_view
def instance_live(request: HttpRequest, key: int) -> HttpResponse:
    """The instance page's live regions (htmx polls this); 286 once the instance ended stops the polling."""
    ctx = _ctx(request)
    detail = q.instance_detail(ctx.tenant_ids, key)
    ended = detail.instance.state != "ACTIVE"
    return render(request, "inspector/_instance_live.html", {
        **_live_context(ctx, detail), "ctx": ctx, "oob": True, "editable": not ended,
        "retry_form": RetryForm(),
    }, status=286 if ended else 200)


@require_GET
@inspector_view
def instance_element(request: HttpRequest, key: int, element_id: str) -> HttpResponse:
    """One element of the instance (what a click on the diagram shows): the panel alone for the page's
    script, the whole instance page with the panel open otherwise."""
    ctx = _ctx(request)
    if request.headers.get("HX-Request") != "true":
        return redirect(_instance_url(key) + "?" + urlencode({"element": element_id}) + "#element-panel")
    panel = element_q.element_panel(ctx.tenant_ids, key, element_id)
    return render(request, "inspector/_element_panel.html", {"ctx": ctx, "panel": panel, "i": panel.instance})


@require_GET
@inspector_view
def instance_diagram(request: HttpRequest, key: int) -> HttpResponse:
    return JsonResponse(q.diagram(_ctx(request).tenant_ids, key))


@require_http_methods(["GET", "POST"])
@inspector_view
def instance_cancel(request: HttpRequest, key: int) -> HttpResponse:
    ctx = _ctx(request)
    instance = q.get_instance(ctx.tenant_ids, key)
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            messages.error(request, "Tick the box to confirm the cancellation.")
        else:
            try:
                ctx.require(Right.OPERATE, "cancel process instances", instance.definition.bpmn_process_id)
                cancel_instance(ctx.tenant, key, ctx.actor, timezone.now())
            except ActionError as exc:
                messages.error(request, exc.detail)
            else:
                messages.success(request, f"Process instance {key} was cancelled.")
                return redirect(_instance_url(key))
    return render(request, "inspector/instance_cancel.html", {"ctx": ctx, "i": instance, "nav": "instances"})


@require_POST
@inspector_view
def instance_variable(request: HttpRequest, key: int) -> HttpResponse:
    ctx = _ctx(request)
    form = VariableForm(request.POST)
    if form.is_valid():
        name = form.cleaned_data["name"]
        try:
            ctx.require(Right.OPERATE, "set variables", process_of(ctx.tenant_ids, instance=key))
            set_process_variable(ctx.tenant_ids, key, name, form.cleaned_data["value"], ctx.actor, timezone.now())
        except ActionError as exc:
            form.add_error("value" if exc.status == 400 else None, exc.detail)
        else:
            messages.success(request, f"Variable {name} was set.")
            return redirect(_instance_url(key, "variables"))
    # One error, shown once, beside the variables (the form's summary names the variable); no
    # page-level message repeating it.
    detail = q.instance_detail(ctx.tenant_ids, key)
    return _render_detail(request, ctx, detail, variable_form=form, status=400)


@require_POST
@inspector_view
def instance_modify(request: HttpRequest, key: int) -> HttpResponse:
    """Move / activate / terminate (operate right); a refusal is shown on the form, nothing changed."""
    ctx = _ctx(request)
    detail = q.instance_detail(ctx.tenant_ids, key)
    form = _modify_form(detail, request.POST)
    if form is None:
        messages.error(request, f"Process instance {key} is {detail.instance.state}; only an active one can change.")
        return redirect(_instance_url(key))
    if form.is_valid():
        d = form.cleaned_data
        try:
            ctx.require(Right.OPERATE, "modify process instances", detail.instance.definition.bpmn_process_id)
            modify(ctx.tenant_ids, key, d["operation"], d.get("source"), d.get("target") or "",
                   d["parsed_variables"], ctx.actor, timezone.now())
        except ActionError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, "The modification was sent to the engine; the diagram shows its result.")
            return redirect(_instance_url(key, "modify"))
    return _render_detail(request, ctx, detail, modify_form=form, status=400)


@require_POST
@inspector_view
def incident_retry(request: HttpRequest, key: int) -> HttpResponse:
    ctx = _ctx(request)
    incident = q.get_or_404(q.incident_list(ctx.tenant_ids, "all"), key, "incident")
    form = RetryForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Retries must be a whole number from 1 to 1000.")
    else:
        try:
            ctx.require(Right.OPERATE, "resolve incidents", incident.bpmn_process_id)
            retry_incident(ctx.tenant_ids, key, form.cleaned_data.get("retries"), ctx.actor, timezone.now())
        except ActionError as exc:
            messages.error(request, f"Incident {key} was not resolved: {exc.detail}")
        else:
            messages.success(request, f"Incident {key} was resolved; the engine retries {incident.element_id}.")
    return redirect(_next(request) or _instance_url(incident.process_instance_key, "incidents"))


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    return target if target.startswith("/inspector/") and "//" not in target else ""


@require_GET
@inspector_view
def incident_list(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    form = IncidentFilterForm(request.GET or None)
    state, process = "ACTIVE", ""
    if form.is_bound and form.is_valid():
        state = form.cleaned_data.get("state") or "ACTIVE"
        process = (form.cleaned_data.get("process") or "").strip()
    group = form.cleaned_data.get("group", "") if form.is_bound and form.is_valid() else ""
    qs = q.incident_list(ctx.tenant_ids, state, process)
    count = qs.count()
    page = q.incident_page(qs, after=request.GET.get("after", "")) if not group else q.Page([])
    base = {k: v for k, v in request.GET.items() if k != "after" and v}
    return render(request, "inspector/incident_list.html", {
        "ctx": ctx,
        "form": form,
        "state": state,
        "process": process,
        "page": page,
        "group": group,
        "groups": overview.incident_groups(ctx.tenant_ids, group, state, process) if group else [],
        "group_choices": overview.INCIDENT_GROUPS,
        "jobs": q.incident_jobs(page.items),
        "count": count,
        "active_count": count if state == "ACTIVE" else q.incident_list(ctx.tenant_ids, "ACTIVE", process).count(),
        "definitions": [d for d in q.definition_choices(ctx.tenant_ids)
                        if ctx.processes is None or d[0] in ctx.processes],
        "next_url": "?" + urlencode({**base, "after": page.next_cursor}) if page.next_cursor else "",
        "first_url": "?" + urlencode(base) if request.GET.get("after") else "",
        "retry_form": RetryForm(),
        "live_seconds": LIVE_SECONDS,
        "nav": "incidents",
    })


@require_POST
@inspector_view
def incident_batch_retry(request: HttpRequest) -> HttpResponse:
    """"Retry selected" (the ticked incidents) or "Retry all matching" (every active incident the list's filter
    finds, not only this page): one resolve-incidents batch with `retries`, run in the background by the
    shared mechanism (engine/actions/batches.py); its page shows the progress live."""
    ctx = _ctx(request)
    back = _next(request) or reverse("inspector:incidents")
    form = RetryForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Retries must be a whole number from 1 to 1000.")
        return redirect(back)
    if request.POST.get("scope") == "filter":
        qs = q.incident_list(ctx.tenant_ids, Incident.State.ACTIVE, (request.POST.get("process") or "").strip())
    else:
        picked = [int(k) for k in request.POST.getlist("incident") if k.isdigit() and len(k) < 20]
        if not picked:
            messages.error(request, "Select at least one incident to retry.")
            return redirect(back)
        qs = q.incident_list(ctx.tenant_ids, "all").filter(key__in=picked)
    # Per process: the role's OPERATE, or a grant on the incident's process (engine.rights); others are left out.
    grants = rights.grants_of(ctx.user, [ctx.tenant.pk]).get(ctx.tenant.pk, {})
    who = rights.Rights(ctx.role, grants)
    may = who.processes(Right.OPERATE)
    if may is not None:
        qs = qs.filter(bpmn_process_id__in=sorted(may))
    keys = list(qs.order_by("key").values_list("key", flat=True)[: batches.MAX_KEYS + 1])
    if not keys and who.anywhere(Right.OPERATE):
        messages.error(request, "No active incident here that you may retry.")
        return redirect(back)
    try:
        batch = batches.start_batch(ctx.tenant, who, Kind.RESOLVE_INCIDENTS, keys, Actor.of_user(request.user),
                                    {"retries": form.cleaned_data.get("retries") or 1},
                                    selection={"scope": request.POST.get("scope") or "selected",
                                               "page": "incidents"})
    except ActionError as exc:
        messages.error(request, exc.detail)
        return redirect(back)
    messages.success(request, f"Batch {batch.pk} queued: retry {len(batch.keys)} incident(s).")
    return redirect("inspector:batch", pk=batch.pk)


@require_GET
@inspector_view
def definition_list(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    processes = q.definitions_overview(ctx.tenant_ids)
    return render(request, "inspector/definition_list.html", {
        "ctx": ctx, "processes": processes, "nav": "definitions",
        "charts": {pid: overview.version_bars(versions) for pid, _, versions in processes},
        "counted_at": _counted_at([v for _, _, vs in processes for v in vs]),
        "decisions": decision_queries.decision_definitions(ctx.tenant_ids).order_by("decision_id", "-version")[:500],
    })


@require_GET
@inspector_view
def definition_detail(request: HttpRequest, key: int) -> HttpResponse:
    """One version: its counts, its diagram with active tokens and incidents per element (the heatmap)."""
    ctx = _ctx(request)
    definition = get_definition(ctx.tenant_ids, key)
    versions = [v for _, _, vs in q.definitions_overview(ctx.tenant_ids, definition.bpmn_process_id) for v in vs]
    return render(request, "inspector/definition_detail.html", {
        "ctx": ctx, "definition": definition, "bars": overview.version_bars(versions), "nav": "definitions",
        "counted_at": _counted_at(versions), "version": next((v for v in versions if v.definition.key == key), None),
        "refresh_seconds": HEATMAP_SECONDS,
    })


def _counted_at(versions: list[q.DefinitionVersion]) -> dict[str, Any]:
    """The age the page shows for the finished counts (the oldest of those shown; counted every 5 minutes)."""
    times = [v.counted_at for v in versions if v.counted_at is not None]
    return {"at": min(times) if times else None, "missing": len(times) < len(versions),
            "every": definition_counts.REFRESH_SECONDS // 60,
            "window_hours": int(definition_counts.DURATION_WINDOW.total_seconds() // 3600)}


@require_GET
@inspector_view
def definition_diagram(request: HttpRequest, key: int) -> HttpResponse:
    return JsonResponse(overview.definition_heatmap(_ctx(request).tenant_ids, key))


@require_GET
@inspector_view
def definition_source(request: HttpRequest, key: int) -> HttpResponse:
    definition = get_definition(_ctx(request).tenant_ids, key, with_source=True)
    json_flow = definition.kind == ProcessDefinition.Kind.DAG
    response = HttpResponse(definition.source, content_type="application/json" if json_flow else
                            "application/xml; charset=utf-8")
    filename = re.sub(r"[^\w.-]", "_", definition.resource_name or definition.bpmn_process_id)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_POST
@login_required
def switch_tenant(request: HttpRequest) -> HttpResponse:
    tenant = switch_session_tenant(request, operator_tenants(request.user), request.POST.get("tenant", ""))
    if tenant is None:
        messages.error(request, "You cannot inspect that tenant.")
    else:
        messages.info(request, f"You are now inspecting {tenant.name or tenant.tenant_id}.")
    return redirect("inspector:instances")


@require_GET
@inspector_view
def engine_status(request: HttpRequest) -> HttpResponse:
    """The engine's dashboard: throughput and latency over the last hour, hand-off, queue depth, this
    tenant's open incidents and the workers (a lost one stands out), drawn on the server and refreshed live."""
    ctx = _ctx(request)
    board = engine_dashboard.dashboard(ctx.tenant_ids, ctx.tenant.tenant_id)
    durations = overview.definition_durations(ctx.tenant_ids)
    minutes = board.minutes
    ms = [(m.apply_p50 * 1000 if m.apply_p50 is not None else None,
           m.apply_p95 * 1000 if m.apply_p95 is not None else None) for m in minutes]
    return render(request, "inspector/engine_status.html", {
        "ctx": ctx,
        "board": board,
        "throughput": charts.line_chart([
            ("commands", "commands applied", [m.commands for m in minutes]),
            ("started", "instances started", [m.started for m in minutes]),
            ("ended", "instances ended", [m.ended for m in minutes]),
        ]),
        "latency": charts.line_chart([("p95", "p95", [p95 for _, p95 in ms]), ("p50", "p50", [p50 for p50, _ in ms])]),
        "handoff_bars": charts.bars(charts.trim_zero_ends(
            [(_seconds_label(bound), n) for bound, n in board.handoff.buckets])),
        "incident_bars": charts.bars(board.incidents),
        "incidents_opened": charts.line_chart([("opened", "incidents opened", [n for _, n in board.incidents_opened])]),
        "durations": durations,
        "duration_bars": charts.duration_bars([
            (f"{d.definition.name or d.definition.bpmn_process_id} v{d.definition.version}", d.definition.key,
             d.p50, d.p99, d.count) for d in durations]),
        "durations_counted_at": min((d.counted_at for d in durations), default=None),
        "duration_window_hours": int(definition_counts.DURATION_WINDOW.total_seconds() // 3600),
        "duration_sample": definition_counts.DURATION_SAMPLE,
        "queue_width": min(100.0, 100.0 * board.backlog.pending / max(1, board.limit)),
        "alive": sum(w.state == "alive" for w in board.workers),
        "lost": sum(w.state == "lost" for w in board.workers),
        "lost_after": status.lost_seconds(),
        "refresh_seconds": DASHBOARD_SECONDS,
        "nav": "engine",
    })


def _seconds_label(bound: float) -> str:
    if bound == float("inf"):
        return "slower"
    return f"≤ {bound * 1000:g} ms" if bound < 1 else f"≤ {bound:g} s"
