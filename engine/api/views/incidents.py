"""Incidents: search, get, resolve."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from engine.actions.incidents import resolve_incident
from engine.api import requests, shapes
from engine.api.base import ApiView, path_key, principal, readable, require_on, valid
from engine.api.search import Field, Spec
from engine.api.views.common import SearchView
from engine.queries import work as q
from engine.queries.common import get_or_404, root_keys
from engine.rights import Right

SPEC = Spec(
    fields={
        "processDefinitionId": Field("bpmn_process_id"),
        "errorType": Field("error_type", "enum", enum={t: (t,) for t in shapes.INCIDENT_ERROR_TYPES}),
        "errorMessage": Field("error_message"),
        "elementId": Field("element_id"),
        "creationTime": Field("created_at", "date"),
        "state": Field(
            "state",
            "enum",
            enum={"ACTIVE": ("ACTIVE",), "MIGRATED": (), "PENDING": (), "RESOLVED": ("RESOLVED",), "UNKNOWN": ()},
        ),
        "tenantId": Field("tenant__tenant_id"),
        "incidentKey": Field("key", "key"),
        "processDefinitionKey": Field("process_definition_key", "key"),
        "processInstanceKey": Field("process_instance_key", "key"),
        "elementInstanceKey": Field("element_instance_key", "key"),
        "jobKey": Field("job_key", "key"),
    },
    sort={
        "incidentKey": Field("key", "key"),
        "processInstanceKey": Field("process_instance_key", "key"),
        "processDefinitionKey": Field("process_definition_key", "key"),
        "processDefinitionId": Field("bpmn_process_id"),
        "errorType": Field("error_type"),
        "elementId": Field("element_id"),
        "elementInstanceKey": Field("element_instance_key", "key"),
        "creationTime": Field("created_at", "date"),
        "state": Field("state"),
        "tenantId": Field("tenant__tenant_id"),
        "jobKey": Field("job_key", "key"),
    },
)


def _rows(request: Request, rows: list[Any]) -> list[dict[str, Any]]:
    who = principal(request)
    roots = root_keys(i.process_instance_key for i in rows)
    return [shapes.incident(i, who.tenant_id_of(i.tenant_id), roots.get(i.process_instance_key)) for i in rows]


class IncidentSearchView(SearchView):
    spec = SPEC
    per_process = frozenset({"POST"})

    def queryset(self, request: Request):  # type: ignore[no-untyped-def]
        return q.incidents(principal(request).tenant_ids).filter(readable(request, "bpmn_process_id"))

    def shape_page(self, request: Request, rows: list[Any]) -> list[dict[str, Any]]:
        return _rows(request, rows)


class IncidentView(ApiView):
    rights = {"GET": Right.READ}
    per_process = frozenset({"GET"})

    def get(self, request: Request, key: str) -> Response:
        incident = get_or_404(q.incidents(principal(request).tenant_ids).filter(readable(request, "bpmn_process_id")),
                              path_key(key, "incidentKey"), "incident")
        return Response(_rows(request, [incident])[0])


class IncidentResolutionView(ApiView):
    rights = {"POST": Right.OPERATE}
    per_process = frozenset({"POST"})
    submits_commands = True

    def post(self, request: Request, key: str) -> Response:
        valid(requests.OperationReference, request.data)
        who = principal(request)
        incident = q.get_incident(who.tenant_ids, path_key(key, "incidentKey"))
        require_on(request, Right.OPERATE, incident.tenant_id, incident.bpmn_process_id, "resolve incidents")
        resolve_incident(who.tenant_ids, incident.key, who.actor, timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)
