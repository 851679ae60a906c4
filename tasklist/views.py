"""Tasklist pages: the task lists, one task, claim / unclaim / hand over, completion through its form.

Views are thin: resolve who is asking (``tasklist_view``), read through engine.queries.tasks,
change state only through engine actions. A task the person may not see is a 404, whether it
exists in another tenant, belongs to someone else, or does not exist at all. Every page works
without JavaScript; with htmx, filtering, sorting and paging swap only the results region.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from engine.actions.task_claims import claim_task, hand_over_task, unclaim_task
from engine.actions.task_transitions import Transition, await_transition
from engine.actions.user_tasks import complete_user_task
from engine.errors import ActionError
from engine.forms.task_form import form_for
from engine.forms.validate import FORM_ERRORS
from engine.models import UserTask
from engine.queries.tasks import (
    COUNT_CAP,
    DEFAULT_SORT,
    DUE_FILTERS,
    PRIORITY_BANDS,
    TaskFilters,
    apply_filters,
    counts,
    find_task,
    page,
    process_choices,
    sorts_for,
    task_list,
    task_variables,
)
from engine.rights import check_completion
from flowsync.sessions import SESSION_TZ, zone
from flowsync.sessions import switch_tenant as switch_session_tenant
from tasklist.access import TasklistContext, tasklist_view
from tasklist.templatetags.tasklist import priority_band

LIST_TITLES = {
    "assigned": "Assigned to me",
    "offered": "Offered to me",
    "completed": "Completed by me",
    "all": "All open",
}
DUE_LABELS = {"overdue": "Overdue", "today": "Due today", "week": "Due this week"}
CREATED = UserTask.State.CREATED
# A task with assigning listeners (Camunda 8.8) changes hands only once the process's check agreed: the page
# waits that long for it, then says it is still under way.
LISTENER_WAIT_SECONDS = 5.0
WAITS = "{what} “{name}” waits for the process's check (a task listener); it may be corrected or refused."
REFUSED = "{what} “{name}” was refused by the process's check: {reason}"
CANCELED = "{what} “{name}” was not done: the task was canceled meanwhile."


def _decided(request: HttpRequest, pending: Transition | None, what: str, task: UserTask) -> bool:
    """True when the change is final and agreed (at once without task listeners); else a message says why not."""
    if pending is None:
        return True
    wait = float(getattr(settings, "FLOWSYNC_TASKLIST_LISTENER_WAIT_SECONDS", LISTENER_WAIT_SECONDS))
    outcome = await_transition(pending, wait)
    name = task.name or task.element_id
    if outcome.state == "denied":
        messages.error(request, REFUSED.format(what=what, name=name, reason=outcome.reason or "no reason given"))
        return False
    if outcome.state == "pending":
        messages.info(request, WAITS.format(what=what, name=name))
        return False
    if outcome.state == "canceled":
        messages.error(request, CANCELED.format(what=what, name=name))
        return False
    return True


def _ctx(request: HttpRequest) -> TasklistContext:
    return request.tasklist  # type: ignore[attr-defined]


# -- lists ----------------------------------------------------------------------------------------


@require_GET
@tasklist_view
def index(request: HttpRequest) -> HttpResponse:
    return redirect("tasklist:list", list_name="assigned")


def filters_from(data: Any) -> TaskFilters:
    def text(name: str, limit: int = 200) -> str:
        return str(data.get(name, "")).strip()[:limit]

    due = text("due")
    priority = text("priority")
    return TaskFilters(
        process=text("process", 255),
        name=text("name"),
        due=due if due in DUE_FILTERS else "",
        priority=priority if priority in PRIORITY_BANDS else "",
        q=text("q"),
    )


@require_GET
@tasklist_view
def task_list_page(request: HttpRequest, list_name: str) -> HttpResponse:
    tl = _ctx(request)
    if list_name not in tl.viewer.lists():
        raise Http404("no such task list")
    filters = filters_from(request.GET)
    sorts = sorts_for(list_name)
    sort = request.GET.get("sort", "")
    if sort not in sorts:
        sort = DEFAULT_SORT[list_name]
    now = timezone.now()
    qs = apply_filters(task_list(tl.viewer, list_name), filters, now, tl.tz)
    result = page(qs, sort, after=request.GET.get("after", ""), before=request.GET.get("before", ""),
                  filters=filters)
    _decorate(result.items, now, tl.tz)
    base_query = {k: v for k, v in (("q", filters.q), ("process", filters.process), ("name", filters.name),
                                    ("due", filters.due), ("priority", filters.priority)) if v}
    if sort != DEFAULT_SORT[list_name]:
        base_query["sort"] = sort
    context: dict[str, Any] = {
        "list_name": list_name,
        "list_title": LIST_TITLES[list_name],
        "page": result,
        "filters": filters,
        "sort": sort,
        "sorts": sorts,
        "next_url": "?" + urlencode({**base_query, "after": result.next_cursor}) if result.next_cursor else "",
        "prev_url": "?" + urlencode({**base_query, "before": result.prev_cursor}) if result.prev_cursor else "",
        "first_url": "?" + urlencode(base_query) if result.prev_cursor else "",
        "now": now,
    }
    partial = request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")
    if partial and request.headers.get("HX-Target") == "task-results":
        response = render(request, "tasklist/_results.html", context)
    else:
        context.update(
            tabs=_tabs(tl, list_name),
            processes=process_choices(tl.tenant.pk),
            due_choices=DUE_LABELS,
            priority_choices=[(k, k.capitalize()) for k in PRIORITY_BANDS],
        )
        response = render(request, "tasklist/list.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _tabs(tl: TasklistContext, current: str) -> list[dict[str, Any]]:
    found = counts(tl.viewer)
    return [
        {
            "name": name,
            "title": LIST_TITLES[name],
            "count": f"{COUNT_CAP}+" if found[name] > COUNT_CAP else str(found[name]),
            "current": name == current,
            "url": reverse("tasklist:list", kwargs={"list_name": name}),
        }
        for name in tl.viewer.lists()
    ]


def _decorate(tasks: list[UserTask], now: dt.datetime, tz: dt.tzinfo) -> None:
    """Prepare what a row shows, in the person's time zone: dates, due status, priority band, links.

    Done here in plain Python rather than with template filters: a list page shows up to 25
    rows and this keeps its rendering to a few milliseconds.
    """
    today = now.astimezone(tz).date()
    detail = reverse("tasklist:detail", kwargs={"key": 0}).replace("/0/", "/{}/")
    claim = reverse("tasklist:claim", kwargs={"key": 0}).replace("/0/", "/{}/")
    for task in tasks:
        status = ""
        if task.due_date is not None and task.state == CREATED:
            if task.due_date < now:
                status = "overdue"
            elif task.due_date.astimezone(tz).date() == today:
                status = "today"
        task.due_status = status  # type: ignore[attr-defined]
        task.band = priority_band(task.priority)  # type: ignore[attr-defined]
        task.url = detail.format(task.key)  # type: ignore[attr-defined]
        task.claim_url = claim.format(task.key)  # type: ignore[attr-defined]
        task.created = _when(task.creation_date, tz)  # type: ignore[attr-defined]
        task.due = _when(task.due_date, tz)  # type: ignore[attr-defined]
        task.completed = _when(task.completion_date, tz)  # type: ignore[attr-defined]


def _when(value: dt.datetime | None, tz: dt.tzinfo) -> dict[str, str] | None:
    """A date-time as the page shows it ("7 Mar 2030, 09:00") and as <time datetime> wants it."""
    if value is None:
        return None
    local = value.astimezone(tz)
    return {"text": f"{local.day} {local:%b %Y, %H:%M}", "iso": local.isoformat()}


# -- one task -------------------------------------------------------------------------------------


def _task_or_404(request: HttpRequest, key: int) -> UserTask:
    task = find_task(_ctx(request).viewer, key)
    if task is None:
        raise Http404("no such task")
    return task


def _list_param(data: Any) -> str:
    name = str(data.get("list", ""))
    return name if name in LIST_TITLES else ""


def _detail_url(task_key: int, list_name: str = "") -> str:
    url = reverse("tasklist:detail", kwargs={"key": task_key})
    return f"{url}?{urlencode({'list': list_name})}" if list_name else url


@require_GET
@tasklist_view
def task_detail(request: HttpRequest, key: int) -> HttpResponse:
    return _render_detail(request, _task_or_404(request, key), _list_param(request.GET))


def _render_detail(
    request: HttpRequest,
    task: UserTask,
    list_name: str,
    *,
    values: Any = None,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    tl = _ctx(request)
    me = tl.username
    now = timezone.now()
    _decorate([task], now, tl.tz)
    task_form = form_for(task)
    variables = task_variables(task, task_form.variable_names())
    is_open = task.state == CREATED
    mine = is_open and task.assignee == me
    form_html = ""
    if mine and task_form.form is not None:
        form = task_form.form
        if values is None:
            values = form.initial_values(variables)
        form_html = form.render(values, errors or {}, tz=tl.tz, variables=variables)
    error_summary = []
    if errors and task_form.form is not None:
        labels = {f.name: f.label or f.name for f in task_form.form.inputs}
        for name, field_messages in errors.items():
            for message in field_messages:
                anchor = "field-" + (re.sub(r"\s+", "_", name) or "form") if name != FORM_ERRORS else "form-errors"
                error_summary.append({"label": labels.get(name, ""), "message": message, "anchor": anchor})
    context = {
        "task": task,
        "list_name": list_name or ("assigned" if mine else ""),
        "back_url": reverse("tasklist:list", kwargs={"list_name": list_name or ("assigned" if mine else "offered")}),
        "back_title": LIST_TITLES[list_name or ("assigned" if mine else "offered")],
        "task_form": task_form,
        "form_html": form_html,
        "error_summary": error_summary,
        "variables": [(name, _preview(value)) for name, value in sorted(variables.items())],
        "is_open": is_open,
        "mine": mine,
        "can_claim": is_open and not task.assignee and tl.viewer.can_claim(task),
        "can_unclaim": is_open and bool(task.assignee) and (task.assignee == me or tl.viewer.can_see_all),
        "handover_choices": _handover_choices(tl, task) if is_open and task.assignee == me else [],
        "inspector_url": _inspector_url(request, task),
        "candidate_users": task.candidate_users or [],
        "candidate_groups": task.candidate_groups or [],
    }
    return render(request, "tasklist/detail.html", context, status=status)


def _preview(value: Any, limit: int = 400) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=None, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _inspector_url(request: HttpRequest, task: UserTask) -> str:
    """A link to the instance in the Inspector, for the people it lets in (operators, admins, superusers)."""
    if not (_ctx(request).is_operator or request.user.is_superuser):
        return ""
    try:
        return reverse("inspector:instance", kwargs={"key": task.process_instance_key})
    except NoReverseMatch:
        return ""


def _handover_choices(tl: TasklistContext, task: UserTask) -> list[str]:
    """Who may take the task over: active members of the tenant among its candidates (any member if none)."""
    users = get_user_model().objects.filter(is_active=True, memberships__tenant=tl.tenant)
    users_named, groups = task.candidate_users or [], task.candidate_groups or []
    if users_named or groups:
        users = users.filter(Q(username__in=users_named) | Q(groups__name__in=groups))
    names = set(users.values_list("username", flat=True)[:500])
    names.discard(task.assignee)
    return sorted(names)


@require_POST
@tasklist_view
def claim(request: HttpRequest, key: int) -> HttpResponse:
    tl = _ctx(request)
    task = _task_or_404(request, key)
    list_name = _list_param(request.POST)
    if not (tl.viewer.can_claim(task) or task.assignee == tl.username):
        messages.error(request, "You are not among the candidates of this task.")
        return redirect(_detail_url(task.key, list_name))
    try:
        pending = claim_task(tl.tenant_ids, task.key, tl.username, tl.username, timezone.now())
    except ActionError as exc:
        messages.error(request, exc.detail)
        return redirect(_detail_url(task.key, list_name))
    if not _decided(request, pending, "Your claim of", task):
        return redirect(_detail_url(task.key, list_name))
    messages.success(request, f"You claimed “{task.name or task.element_id}”.")
    # The task now lives in "Assigned to me": completing it moves on through that list.
    return redirect(_detail_url(task.key, "assigned" if list_name in ("", "offered") else list_name))


@require_POST
@tasklist_view
def unclaim(request: HttpRequest, key: int) -> HttpResponse:
    tl = _ctx(request)
    task = _task_or_404(request, key)
    try:
        pending = unclaim_task(tl.tenant_ids, task.key, tl.username, tl.username, timezone.now(),
                               any_assignee=tl.viewer.can_see_all)
    except ActionError as exc:
        messages.error(request, exc.detail)
    else:
        if not _decided(request, pending, "Giving back", task):
            return redirect(_detail_url(task.key, _list_param(request.POST)))
        messages.success(request, f"You gave “{task.name or task.element_id}” back to its candidates.")
    return redirect(_detail_url(task.key, _list_param(request.POST)))


@require_POST
@tasklist_view
def hand_over(request: HttpRequest, key: int) -> HttpResponse:
    tl = _ctx(request)
    task = _task_or_404(request, key)
    target = str(request.POST.get("assignee", "")).strip()
    if task.assignee != tl.username:
        messages.error(request, "Only the assignee can hand this task over.")
        return redirect(_detail_url(task.key))
    if target not in _handover_choices(tl, task):
        messages.error(request, "Choose one of the task's candidates to hand it over to.")
        return redirect(_detail_url(task.key))
    try:
        pending = hand_over_task(tl.tenant_ids, task.key, tl.username, target, tl.username, timezone.now())
    except ActionError as exc:
        messages.error(request, exc.detail)
        return redirect(_detail_url(task.key))
    if not _decided(request, pending, f"Handing over to {target}", task):
        return redirect(_detail_url(task.key))
    messages.success(request, f"You handed “{task.name or task.element_id}” over to {target}.")
    return redirect("tasklist:list", list_name="assigned")


@require_POST
@tasklist_view
def complete(request: HttpRequest, key: int) -> HttpResponse:
    tl = _ctx(request)
    task = _task_or_404(request, key)
    list_name = _list_param(request.POST) or "assigned"
    label = task.name or task.element_id
    if task.state != CREATED:
        messages.error(request, f"This task is {task.get_state_display().lower()}; it cannot be completed again.")
        return redirect(_detail_url(task.key, list_name))
    try:
        check_completion(task.assignee, tl.username)  # checked again, under the row lock, by the action
    except ActionError as exc:
        messages.error(request, exc.detail)
        return redirect(_detail_url(task.key, list_name))
    task_form = form_for(task)
    if task_form.form is None:
        messages.error(request, task_form.problem)
        return redirect(_detail_url(task.key, list_name))
    form = task_form.form
    values, errors = form.parse(request.POST, tz=tl.tz)
    if errors:
        variables = task_variables(task, task_form.variable_names())
        redisplay = form.redisplay_values(variables, values)
        return _render_detail(request, task, list_name, values=redisplay, errors=errors, status=422)
    try:
        # In the Tasklist everyone completes only what they hold, whatever their role.
        pending = complete_user_task(tl.tenant_ids, task.key, dict(values), tl.username, timezone.now(),
                                     as_user=tl.username)
    except ActionError as exc:
        messages.error(request, exc.detail)
        return redirect(_detail_url(task.key, list_name))
    if not _decided(request, pending, "Completing", task):
        return redirect(_detail_url(task.key, list_name))
    messages.success(request, f"Completed “{label}”.")
    following = _next_task(tl, list_name, task.key)
    if following is not None:
        return redirect(_detail_url(following.key, list_name))
    return redirect("tasklist:list", list_name=list_name)


def _next_task(tl: TasklistContext, list_name: str, done_key: int) -> UserTask | None:
    if list_name not in tl.viewer.lists() or list_name == "completed":
        list_name = "assigned"
    qs = task_list(tl.viewer, list_name).exclude(key=done_key)
    found = page(qs, DEFAULT_SORT[list_name], size=1).items
    return found[0] if found else None


# -- tenant and time zone ---------------------------------------------------------------------------


@require_POST
@tasklist_view
def switch_tenant(request: HttpRequest) -> HttpResponse:
    tl = _ctx(request)
    tenant = switch_session_tenant(request, tl.tenants, request.POST.get("tenant", ""))
    if tenant is None:
        messages.error(request, "You are not a member of that tenant.")
    else:
        messages.info(request, f"You are now working in {tenant.name or tenant.tenant_id}.")
    return redirect("tasklist:index")


@tasklist_view
def preferences(request: HttpRequest) -> HttpResponse:
    tl = _ctx(request)
    if request.method == "POST":
        chosen = zone(request.POST.get("timezone"))
        if chosen is None:
            if request.headers.get("X-Requested-With"):
                return HttpResponse(status=400)
            messages.error(request, "Choose a time zone from the list.")
        else:
            request.session[SESSION_TZ] = chosen.key
            if request.headers.get("X-Requested-With"):
                return HttpResponse(status=204)  # the browser told us its zone in the background
            messages.success(request, f"Dates are now shown in {chosen.key}.")
            target = request.POST.get("next", "")
            if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
                return redirect(target)
            return redirect("tasklist:preferences")
    elif request.method != "GET":
        return HttpResponse(status=405)
    return render(request, "tasklist/preferences.html", {
        "zones": sorted(zoneinfo.available_timezones()),
        "current": tl.tz.key,
    })
