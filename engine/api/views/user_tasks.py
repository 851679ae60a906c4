"""User tasks: search, get, form, assign, unassign, complete."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from engine.actions.user_tasks import assign_user_task as assign
from engine.actions.user_tasks import complete_user_task as complete
from engine.actions.user_tasks import unassign_user_task as unassign
from engine.api import requests, shapes
from engine.api.base import ApiView, path_key, principal, valid
from engine.api.search import Field, Spec, fail
from engine.api.views.common import SearchView
from engine.api.views.variables_filter import variables_q
from engine.errors import NotFound
from engine.forms.task_form import form_source
from engine.models import UserTask
from engine.queries import work as q
from engine.queries.common import root_keys


def _candidate(column: str) -> Any:
    """candidateGroup / candidateUser: the task offers itself to this name (JSON list membership)."""

    def build(value: Any, where: str) -> Q:
        def has(name: Any, at: str) -> Q:
            if not isinstance(name, str):
                raise fail(f"{at}: expected a string")
            return Q(**{f"{column}__contains": [name]})

        if not isinstance(value, dict):
            return has(value, where)
        out = Q()
        for op, operand in value.items():
            at = f"{where}.{op}"
            if op == "$eq":
                out &= has(operand, at)
            elif op == "$neq":
                out &= ~has(operand, at)
            elif op in ("$in", "$notIn"):
                if not isinstance(operand, list):
                    raise fail(f"{at}: expected a list")
                any_of = Q(pk__in=[])
                for i, name in enumerate(operand):
                    any_of |= has(name, f"{at}[{i}]")
                out &= any_of if op == "$in" else ~any_of
            elif op == "$exists":
                if not isinstance(operand, bool):
                    raise fail(f"{at}: expected true or false")
                out &= ~Q(**{column: []}) if operand else Q(**{column: []})
            else:
                raise fail(f"{where}: operator '{op}' is not allowed; allowed: $eq, $neq, $in, $notIn, $exists")
        return out

    return build


def _local_variables(value: Any, where: str) -> Q:
    return variables_q(value, where, {"scope_key": "element_instance_key"})


def _instance_variables(value: Any, where: str) -> Q:
    return variables_q(value, where, {"process_instance_id": "process_instance_key"})


SPEC = Spec(
    fields={
        "state": Field(
            "state",
            "enum",
            enum={
                s: ((s,) if s in UserTask.State.values else ())
                for s in (
                    "CREATING",
                    "CREATED",
                    "ASSIGNING",
                    "UPDATING",
                    "COMPLETING",
                    "COMPLETED",
                    "CANCELING",
                    "CANCELED",
                    "FAILED",
                )
            },
        ),
        "assignee": Field("assignee", blank_null=True),
        "businessId": Field("business_key", blank_null=True),
        "priority": Field("priority", "int"),
        "elementId": Field("element_id"),
        "name": Field("name", blank_null=True),
        "tenantId": Field("tenant__tenant_id"),
        "processDefinitionId": Field("bpmn_process_id"),
        "creationDate": Field("creation_date", "date"),
        "completionDate": Field("completion_date", "date"),
        "followUpDate": Field("follow_up_date", "date"),
        "dueDate": Field("due_date", "date"),
        "userTaskKey": Field("key", "key"),
        "processDefinitionKey": Field("process_definition_key", "key"),
        "processInstanceKey": Field("process_instance_key", "key"),
        "elementInstanceKey": Field("element_instance_key", "key"),
    },
    custom={
        "candidateGroup": _candidate("candidate_groups"),
        "candidateGroups": _candidate("candidate_groups"),
        "candidateUser": _candidate("candidate_users"),
        "candidateUsers": _candidate("candidate_users"),
        "processInstanceVariables": _instance_variables,
        "localVariables": _local_variables,
    },
    sort={
        "creationDate": Field("creation_date", "date"),
        "completionDate": Field("completion_date", "date"),
        "dueDate": Field("due_date", "date"),
        "followUpDate": Field("follow_up_date", "date"),
        "name": Field("name"),
        "priority": Field("priority", "int"),
        "businessId": Field("business_key"),
    },
    allow_or=True,
    unsupported=frozenset({"tags"}),
)


def _rows(request: Request, rows: list[UserTask]) -> list[dict[str, Any]]:
    who = principal(request)
    roots = root_keys(t.process_instance_key for t in rows)
    return [shapes.user_task(t, who.tenant_id_of(t.tenant_id), roots.get(t.process_instance_key)) for t in rows]


class UserTaskSearchView(SearchView):
    spec = SPEC

    def queryset(self, request: Request):  # type: ignore[no-untyped-def]
        return q.user_tasks(principal(request).tenant_ids)

    def shape_page(self, request: Request, rows: list[Any]) -> list[dict[str, Any]]:
        return _rows(request, rows)


class UserTaskView(ApiView):
    def get(self, request: Request, key: str) -> Response:
        task = q.get_user_task(principal(request).tenant_ids, path_key(key, "userTaskKey"))
        return Response(_rows(request, [task])[0])


class UserTaskFormView(ApiView):
    """The task's form: embedded Camunda forms (`zeebe:userTaskForm`) come from the deployed process;
    204 when the task has no form."""

    def get(self, request: Request, key: str) -> Response:
        who = principal(request)
        task = q.get_user_task(who.tenant_ids, path_key(key, "userTaskKey"))
        source = form_source(task)
        if source.origin == "missing":
            raise NotFound(f"form '{source.form_id}' of user task {task.key} is not available: {source.problem}")
        if source.origin != "generic":
            # Embedded forms have no key of their own: the definition's key names them (as in Camunda).
            return Response({"tenantId": who.tenant_id_of(task.tenant_id), "formId": source.form_id,
                             "schema": source.text, "version": source.version, "formKey": str(source.key)})
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserTaskAssignmentView(ApiView):
    submits_commands = True

    def post(self, request: Request, key: str) -> Response:
        data = valid(requests.AssignUserTask, request.data)
        who = principal(request)
        task = q.get_user_task(who.tenant_ids, path_key(key, "userTaskKey"))
        allow_override = data.get("allowOverride")
        assign(
            who.tenant_ids,
            task.key,
            data["assignee"],
            who.actor,
            timezone.now(),
            allow_override=True if allow_override is None else allow_override,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserTaskAssigneeView(ApiView):
    submits_commands = True

    def delete(self, request: Request, key: str) -> Response:
        valid(requests.UnassignUserTask, request.data)
        who = principal(request)
        task = q.get_user_task(who.tenant_ids, path_key(key, "userTaskKey"))
        unassign(who.tenant_ids, task.key, who.actor, timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserTaskCompletionView(ApiView):
    submits_commands = True

    def post(self, request: Request, key: str) -> Response:
        data = valid(requests.CompleteUserTask, request.data)
        who = principal(request)
        task = q.get_user_task(who.tenant_ids, path_key(key, "userTaskKey"))
        complete(who.tenant_ids, task.key, data.get("variables") or {}, who.actor, timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)
