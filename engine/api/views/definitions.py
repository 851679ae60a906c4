"""Process definitions: search, get, XML."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import BooleanField, CharField, ExpressionWrapper, Q, Value
from django.http import HttpResponse
from rest_framework.request import Request
from rest_framework.response import Response

from engine.api import shapes
from engine.api.base import ApiView, path_key, principal
from engine.api.search import Field, Spec
from engine.api.views.common import SearchView
from engine.flows.diagram import to_bpmn
from engine.graph import Graph
from engine.models import ProcessDefinition
from engine.queries import definitions as q
from engine.rights import Right

SPEC = Spec(
    fields={
        "processDefinitionId": Field("bpmn_process_id"),
        "name": Field("name", blank_null=True),
        "version": Field("version", "int"),
        "versionTag": Field("version_tag", blank_null=True),
        "resourceName": Field("resource_name"),
        "processDefinitionKey": Field("key", "key"),
        "tenantId": Field("tenant__tenant_id"),
        "isLatestVersion": Field("_is_latest", "bool"),
        "state": Field("_state", "enum", enum={"ACTIVE": ("ACTIVE",), "DRAINING": (), "DELETED": ()}),
    },
    sort={
        "processDefinitionKey": Field("key", "key"),
        "processDefinitionId": Field("bpmn_process_id"),
        "name": Field("name"),
        "resourceName": Field("resource_name"),
        "version": Field("version", "int"),
        "versionTag": Field("version_tag"),
        "tenantId": Field("tenant__tenant_id"),
    },
    unsupported=frozenset({"hasStartForm"}),
)


class ProcessDefinitionSearchView(SearchView):
    spec = SPEC

    def queryset(self, request: Request):  # type: ignore[no-untyped-def]
        return q.definitions(principal(request).tenant_ids).annotate(
            _is_latest=ExpressionWrapper(Q(version=q.latest_version_subquery()), output_field=BooleanField()),
            _state=Value("ACTIVE", output_field=CharField()),
        )

    def shape_page(self, request: Request, rows: list[Any]) -> list[dict[str, Any]]:
        who = principal(request)
        return [shapes.process_definition(d, who.tenant_id_of(d.tenant_id), q.has_start_form(d.key)) for d in rows]


class ProcessDefinitionView(ApiView):
    rights = {"GET": Right.READ}

    def get(self, request: Request, key: str) -> Response:
        who = principal(request)
        d = q.get_definition(who.tenant_ids, path_key(key, "processDefinitionKey"))
        return Response(shapes.process_definition(d, who.tenant_id_of(d.tenant_id), q.has_start_form(d.key)))


class ProcessDefinitionXmlView(ApiView):
    rights = {"GET": Right.READ}

    def get(self, request: Request, key: str) -> HttpResponse:
        d = q.get_definition(principal(request).tenant_ids, path_key(key, "processDefinitionKey"), with_source=True)
        # text/xml as Camunda's API answers it, but never rendered on this origin (an XML file can
        # carry XHTML script): a download, in a sandbox with nothing allowed. A JSON flow answers
        # its graph written out as BPMN.
        source = to_bpmn(Graph.from_json(d.graph)) if d.kind == ProcessDefinition.Kind.DAG else d.source
        response = HttpResponse(source, content_type="text/xml; charset=utf-8")
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", d.bpmn_process_id)[:100] or "process"
        response["Content-Disposition"] = f'attachment; filename="{name}.bpmn"'
        response["Content-Security-Policy"] = "sandbox; default-src 'none'"
        response["X-Content-Type-Options"] = "nosniff"
        return response
