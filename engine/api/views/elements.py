"""Element instances and variables: search, get, and setting variables on a scope."""

from __future__ import annotations

from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from engine.actions.variables import set_variables
from engine.api import requests, shapes
from engine.api.base import ApiView, path_key, principal, readable, require_on, valid
from engine.api.search import Field, Spec
from engine.api.shapes import ELEMENT_TYPES
from engine.api.views.common import SearchView
from engine.api.views.variables_filter import value_q
from engine.errors import InvalidInput
from engine.models import ElementInstance
from engine.queries import definitions as definition_queries
from engine.queries import instances as q
from engine.queries.common import get_or_404
from engine.rights import Right, process_of

# What a per-process READ grant is checked on (element instances and variables reach it through their instance).
PROCESS = "process_instance__definition__bpmn_process_id"

ELEMENT_SPEC = Spec(
    fields={
        "processDefinitionId": Field("process_instance__definition__bpmn_process_id"),
        "state": Field("state", "enum", enum={s: (s,) for s in ElementInstance.State.values}),
        "type": Field("element_type", "enum", enum={t: (t,) for t in ELEMENT_TYPES}),
        "elementId": Field("element_id"),
        "hasIncident": Field("_has_incident", "bool"),
        "tenantId": Field("tenant__tenant_id"),
        "elementInstanceKey": Field("key", "key"),
        "processInstanceKey": Field("process_instance_id", "key"),
        "processDefinitionKey": Field("process_instance__definition_id", "key"),
        "incidentKey": Field("incident_key", "key"),
        "startDate": Field("start_date", "date"),
        "endDate": Field("end_date", "date"),
        "elementInstanceScopeKey": Field("flow_scope_key", "key"),
    },
    sort={
        "elementInstanceKey": Field("key", "key"),
        "processInstanceKey": Field("process_instance_id", "key"),
        "processDefinitionKey": Field("process_instance__definition_id", "key"),
        "processDefinitionId": Field("process_instance__definition__bpmn_process_id"),
        "elementId": Field("element_id"),
        "type": Field("element_type"),
        "state": Field("state"),
        "startDate": Field("start_date", "date"),
        "endDate": Field("end_date", "date"),
        "incidentKey": Field("incident_key", "key"),
        "tenantId": Field("tenant__tenant_id"),
    },
    allow_or=True,
    # Element names live in the compiled graph, not in a column.
    unsupported=frozenset({"elementName"}),
)


def _element_rows(request: Request, rows: list[ElementInstance]) -> list[dict[str, Any]]:
    who = principal(request)
    names = definition_queries.element_names({ei.process_instance.definition_id for ei in rows})
    return [
        shapes.element_instance(
            ei, who.tenant_id_of(ei.tenant_id), names.get((ei.process_instance.definition_id, ei.element_id), "")
        )
        for ei in rows
    ]


class ElementInstanceSearchView(SearchView):
    spec = ELEMENT_SPEC
    per_process = frozenset({"POST"})  # a READ grant lets in; readable() limits the rows to its processes

    def queryset(self, request: Request):  # type: ignore[no-untyped-def]
        return q.element_instances(principal(request).tenant_ids).filter(readable(request, PROCESS)).annotate(
            _has_incident=ExpressionWrapper(Q(incident_key__isnull=False), output_field=BooleanField())
        )

    def shape_page(self, request: Request, rows: list[Any]) -> list[dict[str, Any]]:
        return _element_rows(request, rows)


class ElementInstanceView(ApiView):
    rights = {"GET": Right.READ}
    per_process = frozenset({"GET"})

    def get(self, request: Request, key: str) -> Response:
        ei = get_or_404(q.element_instances(principal(request).tenant_ids).filter(readable(request, PROCESS)),
                        path_key(key, "elementInstanceKey"), "element instance")
        return Response(_element_rows(request, [ei])[0])


class ElementInstanceVariablesView(ApiView):
    """PUT: set variables on an element instance's scope; `local` keeps them there, otherwise
    each goes to the nearest scope that already has it (Camunda's propagation rule)."""
    rights = {"PUT": Right.OPERATE}
    per_process = frozenset({"PUT"})
    submits_commands = True

    def put(self, request: Request, key: str) -> Response:
        data = valid(requests.SetVariables, request.data)
        if not data["variables"]:
            raise InvalidInput("variables: give at least one variable")
        who = principal(request)
        ei = q.get_element_instance(who.tenant_ids, path_key(key, "elementInstanceKey"))
        require_on(request, Right.OPERATE, ei.tenant_id, process_of([ei.tenant_id], instance=ei.process_instance_id),
                   "set variables")
        set_variables(who.tenant_ids, ei.key, data["variables"], data["local"], who.actor, timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _variable_value(value: Any, where: str) -> Q:
    return value_q(value, where)


VARIABLE_SPEC = Spec(
    fields={
        "name": Field("name"),
        "tenantId": Field("tenant__tenant_id"),
        "variableKey": Field("key", "key"),
        "scopeKey": Field("scope_key", "key"),
        "processInstanceKey": Field("process_instance_id", "key"),
    },
    custom={"value": _variable_value},
    sort={
        "name": Field("name"),
        "variableKey": Field("key", "key"),
        "scopeKey": Field("scope_key", "key"),
        "processInstanceKey": Field("process_instance_id", "key"),
        "tenantId": Field("tenant__tenant_id"),
    },
    unsupported=frozenset({"isTruncated"}),
)


class VariableSearchView(SearchView):
    spec = VARIABLE_SPEC
    per_process = frozenset({"POST"})

    def queryset(self, request: Request):  # type: ignore[no-untyped-def]
        from django.db.models import TextField
        from django.db.models.functions import Cast

        return (q.variables(principal(request).tenant_ids).filter(readable(request, PROCESS))
                .annotate(value_text=Cast("value", TextField())))

    def shape_page(self, request: Request, rows: list[Any]) -> list[dict[str, Any]]:
        truncate = request.query_params.get("truncateValues", "true").lower() != "false"
        who = principal(request)
        return [shapes.variable(v, who.tenant_id_of(v.tenant_id), truncate) for v in rows]


class VariableView(ApiView):
    rights = {"GET": Right.READ}
    per_process = frozenset({"GET"})

    def get(self, request: Request, key: str) -> Response:
        who = principal(request)
        v = get_or_404(q.variables(who.tenant_ids).filter(readable(request, PROCESS)), path_key(key, "variableKey"),
                       "variable")
        return Response(shapes.variable(v, who.tenant_id_of(v.tenant_id), None))
