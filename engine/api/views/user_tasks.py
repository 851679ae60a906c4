"""User tasks: search, get, form, assign, unassign, complete."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from engine.actions.task_transitions import Transition, api_wait_seconds, await_transition
from engine.actions.user_tasks import assign_user_task as assign
from engine.actions.user_tasks import complete_user_task as complete
from engine.actions.user_tasks import unassign_user_task as unassign
from engine.actions.user_tasks import update_user_task as update
from engine.api import requests, shapes
from engine.api.auth import ApiPrincipal
from engine.api.base import ApiView, path_key, principal, valid
from engine.api.problems import DeadlineExceeded
from engine.api.search import Field, Spec, fail
from engine.api.views.common import SearchView
from engine.api.views.variables_filter import variables_q
from engine.errors import Conflict, Forbidden, NotFound
from engine.forms.task_form import form_source
from engine.models import UserTask
from engine.queries import work as q
from engine.queries.common import root_keys
from engine.queries.tasks import Viewer
from engine.rights import Right, check_assignment


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


def decided(transition: Transition | None) -> Response:
    """204 once the task's listeners agreed (at once without listeners); 409 when one denied the transition or the
    task was canceled meanwhile, 504 when they did not decide in time (as Camunda 8.8: the request waits for the
    blocking listeners)."""
    if transition is not None:
        outcome = await_transition(transition, api_wait_seconds())
        if outcome.state in ("denied", "canceled"):
            raise Conflict(outcome.message(transition))
        if outcome.state == "pending":
            raise DeadlineExceeded(outcome.message(transition))
    return Response(status=status.HTTP_204_NO_CONTENT)


def viewer(who: ApiPrincipal, tenant_pk: int) -> Viewer:
    """The caller as the Tasklist sees a person: see-all (and manage) with MANAGE_TASKS, else its own tasks."""
    return Viewer(tenant_id=tenant_pk, username=who.name, groups=who.groups,
                  can_see_all=who.may(Right.MANAGE_TASKS, tenant_pk),
                  processes=who.rights_in(tenant_pk).grants.get(Right.WORK_TASKS, frozenset()),
                  works=who.may(Right.WORK_TASKS, tenant_pk))


def visible_task(request: Request, key: str) -> tuple[UserTask, Viewer]:
    """The task if the caller may see it (engine.rights via Viewer); 404 otherwise, as in the Tasklist."""
    who = principal(request)
    task = q.get_user_task(who.tenant_ids, path_key(key, "userTaskKey"))
    seen_by = viewer(who, task.tenant_id)
    if not seen_by.can_view(task):
        raise NotFound(f"no user task with key {task.key}")
    return task, seen_by


class UserTaskSearchView(SearchView):
    rights = {"POST": Right.WORK_TASKS}
    per_process = frozenset({"POST"})  # a WORK_TASKS grant lets in; the Viewer limits what is seen
    spec = SPEC

    def queryset(self, request: Request):  # type: ignore[no-untyped-def]
        who = principal(request)
        visible = Q(pk__in=[])
        for pk in who.tenant_ids:
            visible |= viewer(who, pk).visible()
        return q.user_tasks(who.tenant_ids).filter(visible)

    def shape_page(self, request: Request, rows: list[Any]) -> list[dict[str, Any]]:
        return _rows(request, rows)


class UserTaskView(ApiView):
    rights = {"GET": Right.WORK_TASKS, "PATCH": Right.WORK_TASKS}
    per_process = frozenset({"GET", "PATCH"})  # a WORK_TASKS grant lets in; Viewer limits what is seen
    submits_commands = True

    def get(self, request: Request, key: str) -> Response:
        task, _ = visible_task(request, key)
        return Response(_rows(request, [task])[0])

    def patch(self, request: Request, key: str) -> Response:
        """Camunda 8's update user task: 204; with updating task listeners the task is UPDATING until they agreed."""
        data = valid(requests.UpdateUserTask, request.data)
        who = principal(request)
        task, seen_by = visible_task(request, key)
        if not seen_by.can_see_all:
            # Changing a task's dates, candidates or priority is managing it (as reassigning anyone's is).
            raise Forbidden("updating a user task needs the right to manage tasks")
        return decided(update(who.tenant_ids, task.key, data.get("changeset"), data.get("action") or "", who.actor,
                              timezone.now()))


class UserTaskFormView(ApiView):
    """The task's form: embedded Camunda forms (`zeebe:userTaskForm`) come from the deployed process;
    204 when the task has no form."""
    rights = {"GET": Right.WORK_TASKS}
    per_process = frozenset({"GET"})  # a WORK_TASKS grant lets in; Viewer limits what is seen

    def get(self, request: Request, key: str) -> Response:
        who = principal(request)
        task, _ = visible_task(request, key)
        source = form_source(task)
        if source.origin == "missing":
            raise NotFound(f"form '{source.form_id}' of user task {task.key} is not available: {source.problem}")
        if source.origin != "generic":
            # Embedded forms have no key of their own: the definition's key names them (as in Camunda).
            return Response({"tenantId": who.tenant_id_of(task.tenant_id), "formId": source.form_id,
                             "schema": source.text, "version": source.version, "formKey": str(source.key)})
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserTaskAssignmentView(ApiView):
    rights = {"POST": Right.WORK_TASKS}
    per_process = frozenset({"POST"})  # a WORK_TASKS grant lets in; Viewer limits what is seen
    submits_commands = True

    def post(self, request: Request, key: str) -> Response:
        data = valid(requests.AssignUserTask, request.data)
        who = principal(request)
        task, seen_by = visible_task(request, key)
        allow_override = data.get("allowOverride")
        if not check_assignment(seen_by.can_see_all, who.name, data["assignee"], task.assignee,
                                seen_by.can_claim(task)):
            allow_override = False
        return decided(assign(
            who.tenant_ids,
            task.key,
            data["assignee"],
            who.actor,
            timezone.now(),
            allow_override=True if allow_override is None else allow_override,
            action=data.get("action") or "",
        ))


class UserTaskAssigneeView(ApiView):
    rights = {"DELETE": Right.WORK_TASKS}
    per_process = frozenset({"DELETE"})  # a WORK_TASKS grant lets in; Viewer limits what is seen
    submits_commands = True

    def delete(self, request: Request, key: str) -> Response:
        valid(requests.UnassignUserTask, request.data)
        who = principal(request)
        task, seen_by = visible_task(request, key)
        if not seen_by.can_see_all and task.assignee not in ("", who.name):
            raise Forbidden("without the right to manage tasks you may only give back a task you hold")
        return decided(unassign(who.tenant_ids, task.key, who.actor, timezone.now(),
                                as_user=None if seen_by.can_see_all else who.name))


class UserTaskCompletionView(ApiView):
    rights = {"POST": Right.WORK_TASKS}
    per_process = frozenset({"POST"})  # a WORK_TASKS grant lets in; Viewer limits what is seen
    submits_commands = True

    def post(self, request: Request, key: str) -> Response:
        data = valid(requests.CompleteUserTask, request.data)
        who = principal(request)
        task, seen_by = visible_task(request, key)
        return decided(complete(who.tenant_ids, task.key, data.get("variables") or {}, who.actor, timezone.now(),
                                as_user=None if seen_by.can_see_all else who.name))
