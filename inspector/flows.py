"""Inspector: start a flow run with a form built from the flow's `inputs` schema (engine.flows.start_form,
the same form the admin shows). Errors — the form's own and what the run's input check refuses — are
shown on the fields; nothing is started until the input is accepted."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from engine.actions.flows import flow_definition, start_run
from engine.errors import ActionError
from engine.flows.start_form import problem_errors, start_form
from engine.rights import Right
from inspector.access import inspector_view


@require_http_methods(["GET", "POST"])
@inspector_view
def flow_start(request: HttpRequest, flow_id: str) -> HttpResponse:
    ctx = request.inspector  # type: ignore[attr-defined]
    definition = flow_definition(ctx.tenant, flow_id)  # the latest version; NotFound → 404
    form = start_form(definition)
    values: Any = {}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values, errors = form.parse(request.POST, tz=ctx.tz)
        if not errors:
            try:
                ctx.require(Right.START, "start flow runs")
                instance = start_run(ctx.tenant, flow_id, dict(values), ctx.actor, timezone.now(),
                                     definition.version)
            except ActionError as exc:
                errors = problem_errors(form, exc.extra.get("problems") or [], exc.detail)  # type: ignore[arg-type]
            else:
                return redirect("inspector:instance", instance.key)
    return render(request, "inspector/flow_start.html", {
        "ctx": ctx, "nav": "definitions", "definition": definition, "form_html": form.render(values, errors, tz=ctx.tz),
    }, status=422 if errors else 200)
