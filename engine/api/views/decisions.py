"""Decisions (DMN): decision definitions and requirements (search, get, XML), evaluation on
request, and decision instances (the decisions evaluated, with inputs and matched rules)."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, Q
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from engine.actions import decisions as actions
from engine.api import requests, shapes
from engine.api.base import ApiView, idempotent, path_key, principal, tenant_for, valid
from engine.api.search import Field, Spec, fail
from engine.api.views.common import SearchView
from engine.queries import decisions as q
from engine.rights import Right

DEFINITION_SPEC = Spec(
    fields={
        "decisionDefinitionId": Field("decision_id"),
        "name": Field("name"),
        "isLatestVersion": Field("_is_latest", "bool"),
        "version": Field("version", "int"),
        "decisionRequirementsId": Field("requirements__decision_requirements_id"),
        "tenantId": Field("tenant__tenant_id"),
        "decisionDefinitionKey": Field("key", "key"),
        "decisionRequirementsKey": Field("requirements_id", "key"),
        "decisionRequirementsName": Field("requirements__name"),
        "decisionRequirementsVersion": Field("requirements__version", "int"),
    },
    sort={
        "decisionDefinitionId": Field("decision_id"),
        "decisionDefinitionKey": Field("key", "key"),
        "decisionRequirementsId": Field("requirements__decision_requirements_id"),
        "decisionRequirementsKey": Field("requirements_id", "key"),
        "decisionRequirementsName": Field("requirements__name"),
        "decisionRequirementsVersion": Field("requirements__version", "int"),
        "name": Field("name"),
        "tenantId": Field("tenant__tenant_id"),
        "version": Field("version", "int"),
    },
)
REQUIREMENTS_SPEC = Spec(
    fields={
        "decisionRequirementsName": Field("name"),
        "decisionRequirementsId": Field("decision_requirements_id"),
        "decisionRequirementsKey": Field("key", "key"),
        "version": Field("version", "int"),
        "tenantId": Field("tenant__tenant_id"),
        "resourceName": Field("resource_name"),
    },
    sort={
        "decisionRequirementsId": Field("decision_requirements_id"),
        "decisionRequirementsKey": Field("key", "key"),
        "decisionRequirementsName": Field("name"),
        "tenantId": Field("tenant__tenant_id"),
        "version": Field("version", "int"),
    },
)
_TYPES = {t: (t,) for t in ("DECISION_TABLE", "LITERAL_EXPRESSION", "UNKNOWN")} | {"UNSPECIFIED": ()}
_STATES = {"EVALUATED": ("EVALUATED",), "FAILED": ("FAILED",), "UNKNOWN": (), "UNSPECIFIED": ()}
_INSTANCE_ID = re.compile(r"^([0-9]{1,19})-([0-9]{1,5})$")


def _instance_id(value: Any, where: str) -> Q:
    """decisionEvaluationInstanceKey: "{evaluation key}-{index}", compared for equality."""
    if isinstance(value, dict) and set(value) == {"$eq"}:
        value = value["$eq"]
    match = _INSTANCE_ID.match(value) if isinstance(value, str) else None
    if match is None:
        raise fail(f"{where}: expected a decision evaluation instance key like '2251799813685250-1'")
    return Q(evaluation_key=int(match[1]), index=int(match[2]))


INSTANCE_SPEC = Spec(
    fields={
        "state": Field("state", "enum", enum=_STATES),
        "evaluationFailure": Field("evaluation_failure"),
        "evaluationDate": Field("evaluation_date", "date"),
        "decisionDefinitionId": Field("decision__decision_id"),
        "decisionDefinitionName": Field("decision__name"),
        "decisionDefinitionVersion": Field("decision__version", "int"),
        "decisionDefinitionType": Field("decision__decision_type", "enum", enum=_TYPES),
        "tenantId": Field("tenant__tenant_id"),
        "decisionEvaluationKey": Field("evaluation_key", "key"),
        "processDefinitionKey": Field("process_definition_key", "key"),
        "processInstanceKey": Field("process_instance_key", "key"),
        "businessId": Field("business_id", blank_null=True),
        "decisionDefinitionKey": Field("decision_id", "key"),
        "elementInstanceKey": Field("element_instance_key", "key"),
        "rootDecisionDefinitionKey": Field("root_decision_key", "key"),
        "decisionRequirementsKey": Field("decision__requirements_id", "key"),
    },
    custom={"decisionEvaluationInstanceKey": _instance_id},
    sort={
        "businessId": Field("business_id"),
        "decisionDefinitionId": Field("decision__decision_id"),
        "decisionDefinitionKey": Field("decision_id", "key"),
        "decisionDefinitionName": Field("decision__name"),
        "decisionDefinitionType": Field("decision__decision_type"),
        "decisionDefinitionVersion": Field("decision__version", "int"),
        "decisionEvaluationInstanceKey": Field("id", "key"),
        "decisionEvaluationKey": Field("evaluation_key", "key"),
        "elementInstanceKey": Field("element_instance_key", "key"),
        "evaluationDate": Field("evaluation_date", "date"),
        "evaluationFailure": Field("evaluation_failure"),
        "processDefinitionKey": Field("process_definition_key", "key"),
        "processInstanceKey": Field("process_instance_key", "key"),
        "rootDecisionDefinitionKey": Field("root_decision_key", "key"),
        "state": Field("state"),
        "tenantId": Field("tenant__tenant_id"),
    },
    key_column="id",
)


def _xml(source: str, name: str, suffix: str) -> HttpResponse:
    # text/xml as Camunda answers it, but a download in a sandbox (an XML file can carry XHTML script).
    response = HttpResponse(source, content_type="text/xml; charset=utf-8")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:100] or "decisions"
    response["Content-Disposition"] = f'attachment; filename="{safe}{suffix}"'
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class DecisionDefinitionSearchView(SearchView):
    spec = DEFINITION_SPEC

    def queryset(self, request: Request):  # type: ignore[no-untyped-def]
        return q.decision_definitions(principal(request).tenant_ids).annotate(
            _is_latest=ExpressionWrapper(Q(version=q.latest_decision_version()), output_field=BooleanField()))

    def shape_page(self, request: Request, rows: list[Any]) -> list[dict[str, Any]]:
        who = principal(request)
        return [shapes.decision_definition(d, who.tenant_id_of(d.tenant_id)) for d in rows]


class DecisionDefinitionView(ApiView):
    rights = {"GET": Right.READ}

    def get(self, request: Request, key: str) -> Response:
        who = principal(request)
        d = q.get_decision_definition(who.tenant_ids, path_key(key, "decisionDefinitionKey"))
        return Response(shapes.decision_definition(d, who.tenant_id_of(d.tenant_id)))


class DecisionDefinitionXmlView(ApiView):
    rights = {"GET": Right.READ}

    def get(self, request: Request, key: str) -> HttpResponse:
        who = principal(request)
        d = q.get_decision_definition(who.tenant_ids, path_key(key, "decisionDefinitionKey"))
        r = q.get_decision_requirements(who.tenant_ids, d.requirements_id, with_source=True)
        return _xml(r.source, r.decision_requirements_id, ".dmn")


class DecisionEvaluationView(ApiView):
    """Evaluating a decision records a decision instance: it needs the right to start work."""

    rights = {"POST": Right.START}

    @idempotent
    def post(self, request: Request) -> Response:
        data = valid(requests.EvaluateDecision, request.data)
        who = principal(request)
        tenant = None
        if "decisionDefinitionKey" not in data or data.get("tenantId"):
            tenant = tenant_for(request, data.get("tenantId"))
        tenant_ids = [tenant.pk] if tenant is not None else list(who.tenant_ids)
        definition = actions.find_decision(tenant_ids, tenant, data.get("decisionDefinitionId"),
                                           data.get("decisionDefinitionKey"))
        evaluation, key, rows = actions.evaluate(definition, data.get("variables") or {}, timezone.now())
        return Response(shapes.decision_evaluation(definition, key, evaluation.output, rows,
                                                   who.tenant_id_of(definition.tenant_id)))


class DecisionRequirementsSearchView(SearchView):
    spec = REQUIREMENTS_SPEC

    def queryset(self, request: Request):  # type: ignore[no-untyped-def]
        return q.decision_requirements(principal(request).tenant_ids)

    def shape_page(self, request: Request, rows: list[Any]) -> list[dict[str, Any]]:
        who = principal(request)
        return [shapes.decision_requirements(r, who.tenant_id_of(r.tenant_id)) for r in rows]


class DecisionRequirementsView(ApiView):
    rights = {"GET": Right.READ}

    def get(self, request: Request, key: str) -> Response:
        who = principal(request)
        r = q.get_decision_requirements(who.tenant_ids, path_key(key, "decisionRequirementsKey"))
        return Response(shapes.decision_requirements(r, who.tenant_id_of(r.tenant_id)))


class DecisionRequirementsXmlView(ApiView):
    rights = {"GET": Right.READ}

    def get(self, request: Request, key: str) -> HttpResponse:
        who = principal(request)
        r = q.get_decision_requirements(who.tenant_ids, path_key(key, "decisionRequirementsKey"), with_source=True)
        return _xml(r.source, r.decision_requirements_id, ".dmn")


class DecisionInstanceSearchView(SearchView):
    spec = INSTANCE_SPEC

    def queryset(self, request: Request):  # type: ignore[no-untyped-def]
        return q.decision_instances(principal(request).tenant_ids)

    def shape_page(self, request: Request, rows: list[Any]) -> list[dict[str, Any]]:
        who = principal(request)
        return [shapes.decision_instance(di, who.tenant_id_of(di.tenant_id)) for di in rows]


class DecisionInstanceView(ApiView):
    rights = {"GET": Right.READ}

    def get(self, request: Request, key: str) -> Response:
        who = principal(request)
        di = q.get_decision_instance(who.tenant_ids, key)
        return Response(shapes.decision_instance(di, who.tenant_id_of(di.tenant_id), detail=True))
