"""Process instances: create (optionally awaiting completion), get, search, cancel."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import DateTimeField, Exists, OuterRef, Q, Value
from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from engine.actions import instances as instance_actions
from engine.actions import migration as migration_actions
from engine.actions import modification as modification_actions
from engine.api import requests, shapes
from engine.api.base import (
    ApiView,
    idempotent,
    path_key,
    principal,
    readable,
    refuse_start_when_jobs_lag,
    require_on,
    tenant_for,
    valid,
)
from engine.api.problems import DeadlineExceeded
from engine.api.search import Field, Spec, fail, field_q
from engine.api.views.common import SearchView
from engine.api.views.variables_filter import variables_q
from engine.errors import Conflict, NotFound
from engine.models import ElementInstance, Incident, ProcessDefinition, ProcessInstance
from engine.queries import definitions as definition_queries
from engine.queries import instances as q
from engine.queries.common import get_or_404
from engine.rights import Right
from engine.store.notify import ended_channel, wait_until

DEFAULT_AWAIT_MS = 10_000
MAX_AWAIT_MS = 300_000


def _element_id(value: Any, where: str) -> Q:
    inner = ElementInstance.objects.filter(process_instance_id=OuterRef("key")).filter(
        field_q(Field("element_id"), value, where)
    )
    return Q(Exists(inner))


def _element_state(value: Any, where: str) -> Q:
    f = Field("state", "enum", enum={s: (s,) for s in ElementInstance.State.values})
    inner = ElementInstance.objects.filter(process_instance_id=OuterRef("key")).filter(field_q(f, value, where))
    return Q(Exists(inner))


def _element_incident(value: Any, where: str) -> Q:
    if not isinstance(value, bool):
        raise fail(f"{where}: expected true or false")
    inner = ElementInstance.objects.filter(process_instance_id=OuterRef("key"), incident_key__isnull=False)
    return Q(Exists(inner)) if value else ~Q(Exists(inner))


def _error_message(value: Any, where: str) -> Q:
    inner = Incident.objects.filter(process_instance_key=OuterRef("key"), state=Incident.State.ACTIVE).filter(
        field_q(Field("error_message"), value, where)
    )
    return Q(Exists(inner))


SPEC = Spec(
    fields={
        "processDefinitionId": Field("definition__bpmn_process_id"),
        "processDefinitionName": Field("definition__name", blank_null=True),
        "processDefinitionVersion": Field("definition__version", "int"),
        "processDefinitionVersionTag": Field("definition__version_tag", blank_null=True),
        "processDefinitionKey": Field("definition_id", "key"),
        "startDate": Field("start_date", "date"),
        "endDate": Field("end_date", "date"),
        "state": Field(
            "state",
            "enum",
            enum={"ACTIVE": ("ACTIVE",), "COMPLETED": ("COMPLETED",), "SUSPENDED": (), "TERMINATED": ("TERMINATED",)},
        ),
        "hasIncident": Field("has_incident", "bool"),
        "suspendedDate": Field("_suspended", "date"),
        "tenantId": Field("tenant__tenant_id"),
        "processInstanceKey": Field("key", "key"),
        "parentProcessInstanceKey": Field("parent_instance_key", "key"),
        "parentElementInstanceKey": Field("parent_element_instance_key", "key"),
        "businessId": Field("business_key", blank_null=True),
    },
    custom={
        "variables": lambda value, where: variables_q(value, where, {"process_instance_id": "key"}),
        "elementId": _element_id,
        "elementInstanceState": _element_state,
        "hasElementInstanceIncident": _element_incident,
        "errorMessage": _error_message,
    },
    sort={
        "processInstanceKey": Field("key", "key"),
        "processDefinitionId": Field("definition__bpmn_process_id"),
        "processDefinitionName": Field("definition__name"),
        "processDefinitionVersion": Field("definition__version", "int"),
        "processDefinitionVersionTag": Field("definition__version_tag"),
        "processDefinitionKey": Field("definition_id", "key"),
        "parentProcessInstanceKey": Field("parent_instance_key", "key"),
        "parentElementInstanceKey": Field("parent_element_instance_key", "key"),
        "startDate": Field("start_date", "date"),
        "endDate": Field("end_date", "date"),
        "state": Field("state", "enum"),
        "hasIncident": Field("has_incident", "bool"),
        "tenantId": Field("tenant__tenant_id"),
        "businessId": Field("business_key"),
    },
    allow_or=True,
    unsupported=frozenset({"batchOperationId", "batchOperationKey", "hasRetriesLeft", "incidentErrorHashCode", "tags"}),
)


class ProcessInstancesView(ApiView):
    rights = {"POST": Right.START}
    per_process = frozenset({"POST"})
    submits_commands = True
    starts_work = True

    @idempotent
    def post(self, request: Request) -> Response:
        data = self._data(request)
        who = principal(request)
        latest = False  # the process's latest definition, found by its id
        if "processDefinitionKey" in data and not data.get("tenantId"):
            # A key names one definition in one of the caller's tenants: start it there.
            definition = definition_queries.get_definition(who.tenant_ids, data["processDefinitionKey"])
            tenant = definition.tenant
        else:
            tenant = tenant_for(request, data.get("tenantId"))
            if "processDefinitionVersionTag" in data:
                definition = self._by_version_tag(
                    tenant.pk, data["processDefinitionId"], data["processDefinitionVersionTag"]
                )
            else:
                process_id, version = data.get("processDefinitionId"), data.get("processDefinitionVersion")
                latest = bool(process_id) and (version is None or version < 0) and "processDefinitionKey" not in data
                if latest:  # refused a moment ago: refused again without looking the definition up
                    refuse_start_when_jobs_lag(request, tenant.pk, process_id=process_id,
                                               tenant_given=data.get("tenantId") or "")
                definition = instance_actions.find_definition(
                    tenant,
                    process_id=data.get("processDefinitionId"),
                    version=version,
                    key=data.get("processDefinitionKey"),
                )
        require_on(request, Right.START, tenant.pk, definition.bpmn_process_id, "start instances")
        refuse_start_when_jobs_lag(request, tenant.pk, definition, remember=latest,
                                   tenant_given=data.get("tenantId") or "")
        instance = instance_actions.start_instance(
            tenant,
            definition,
            data.get("variables") or {},
            who.actor,
            timezone.now(),
            business_key=data.get("businessId") or "",
        )
        return Response(shapes.created_instance(instance, definition, tenant.tenant_id, {}, []))

    @staticmethod
    def _data(request: Request) -> dict[str, Any]:
        """The validated body, validated once per request (after_commit needs it too)."""
        data = getattr(request, "_create_data", None)
        if data is None:
            data = request._create_data = valid(requests.CreateProcessInstance, request.data)
        return data

    @staticmethod
    def _by_version_tag(tenant_pk: int, process_id: str, tag: str) -> ProcessDefinition:
        found = (
            definition_queries.definitions([tenant_pk])
            .filter(bpmn_process_id=process_id, version_tag=tag)
            .order_by("-version")
            .first()
        )
        if found is None:
            raise NotFound(f"no process definition '{process_id}' with version tag '{tag}' is deployed")
        return found

    def after_commit(self, request: Request, response: Response) -> Response:
        """awaitCompletion: wait (woken by the engine, no busy loop) until the instance ends."""
        data = self._data(request)
        if not data.get("awaitCompletion"):
            return response
        key = int(response.data["processInstanceKey"])
        timeout_ms = data.get("requestTimeout") or int(getattr(settings, "FLOWSYNC_AWAIT_DEFAULT_MS", DEFAULT_AWAIT_MS))
        timeout_ms = min(timeout_ms, int(getattr(settings, "FLOWSYNC_AWAIT_MAX_MS", MAX_AWAIT_MS)))

        def ended() -> str | None:
            state = q.instance_state(key)
            return state if state in q.ENDED else None

        state = wait_until(ended, [ended_channel(key)], timeout_ms / 1000)
        if state is None:
            raise DeadlineExceeded(
                f"process instance {key} did not complete within {timeout_ms} ms; it goes on running"
            )
        if state == ProcessInstance.State.TERMINATED:
            raise Conflict(f"process instance {key} was terminated before it completed")
        body = dict(response.data)
        body["variables"] = q.instance_variables(key, data.get("fetchVariables") or None)
        return Response(body, status=response.status_code)


class ProcessInstanceView(ApiView):
    rights = {"GET": Right.READ}
    per_process = frozenset({"GET"})

    def get(self, request: Request, key: str) -> Response:
        who = principal(request)
        instance = get_or_404(q.instances(who.tenant_ids).filter(readable(request, "definition__bpmn_process_id")),
                              path_key(key, "processInstanceKey"), "process instance")
        return Response(shapes.process_instance(instance, who.tenant_id_of(instance.tenant_id)))


class ProcessInstanceSearchView(SearchView):
    spec = SPEC
    per_process = frozenset({"POST"})

    def queryset(self, request: Request):  # type: ignore[no-untyped-def]
        return q.instances(principal(request).tenant_ids).filter(
            readable(request, "definition__bpmn_process_id")
        ).annotate(_suspended=Value(None, output_field=DateTimeField()))

    def shape_page(self, request: Request, rows: list[Any]) -> list[dict[str, Any]]:
        who = principal(request)
        return [shapes.process_instance(pi, who.tenant_id_of(pi.tenant_id)) for pi in rows]


class ProcessInstanceCancellationView(ApiView):
    rights = {"POST": Right.OPERATE}
    per_process = frozenset({"POST"})
    submits_commands = True

    def post(self, request: Request, key: str) -> Response:
        valid(requests.OperationReference, request.data)
        who = principal(request)
        instance = q.get_instance(who.tenant_ids, path_key(key, "processInstanceKey"))
        require_on(request, Right.OPERATE, instance.tenant_id, instance.definition.bpmn_process_id, "cancel instances")
        instance_actions.cancel_instance(instance.tenant, instance.key, who.actor, timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _variable_instructions(items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(item.get("scopeId") or "", item.get("variables") or {}) for item in items]


def _modification(data: dict[str, Any]) -> modification_actions.Modification:
    """Camunda 8's modification body → the action's instructions."""
    m = modification_actions.Modification()
    for a in data["activateInstructions"]:
        m.activate.append(modification_actions.Activate(
            a["elementId"], a.get("ancestorElementInstanceKey"), _variable_instructions(a["variableInstructions"])))
    for t in data["terminateInstructions"]:
        if "elementInstanceKey" in t:
            m.terminate_keys.append(t["elementInstanceKey"])
        else:
            m.terminate_element_ids.append(t["elementId"])
    for mv in data["moveInstructions"]:
        source, ancestor = mv["sourceElementInstruction"], mv.get("ancestorScopeInstruction") or {}
        m.moves.append(modification_actions.Move(
            mv["targetElementId"],
            source_key=source.get("sourceElementInstanceKey"),
            source_element_id=source.get("sourceElementId"),
            ancestor=ancestor.get("ancestorScopeType", "inferred"),
            ancestor_key=ancestor.get("ancestorElementInstanceKey"),
            variables=_variable_instructions(mv["variableInstructions"]),
        ))
    return m


class ProcessInstanceModificationView(ApiView):
    """Activate / terminate / move element instances of one running instance, atomically."""

    rights = {"POST": Right.OPERATE}
    per_process = frozenset({"POST"})
    submits_commands = True

    def post(self, request: Request, key: str) -> Response:
        data = valid(requests.ModifyProcessInstance, request.data)
        who = principal(request)
        instance = q.get_instance(who.tenant_ids, path_key(key, "processInstanceKey"))
        require_on(request, Right.OPERATE, instance.tenant_id, instance.definition.bpmn_process_id, "modify instances")
        modification_actions.modify_instance([instance.tenant_id], instance.key, _modification(data), who.actor,
                                             timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProcessInstanceMigrationView(ApiView):
    """Move one running instance to another process definition, with Camunda 8's mapping instructions."""

    rights = {"POST": Right.OPERATE}
    submits_commands = True

    def post(self, request: Request, key: str) -> Response:
        data = valid(requests.MigrateProcessInstance, request.data)
        who = principal(request)
        instance = q.get_instance(who.tenant_ids, path_key(key, "processInstanceKey"))
        mapping = [(m["sourceElementId"], m["targetElementId"]) for m in data["mappingInstructions"]]
        migration_actions.migrate_instance([instance.tenant_id], instance.key, data["targetProcessDefinitionKey"],
                                           mapping, who.actor, timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)
