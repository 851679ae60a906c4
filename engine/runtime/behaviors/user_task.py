from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from engine.graph import Element
from engine.models import ElementInstance, UserTask, UserTaskCandidate
from engine.runtime import listeners
from engine.runtime.behaviors.base import Behavior
from engine.runtime.errors import IncidentRaised
from engine.runtime.expr import evaluate
from engine.runtime.state import InstanceRun
from engine.runtime.tokens import complete
from engine.runtime.variables import set_result

OPEN_STATES = (UserTask.State.CREATING, UserTask.State.CREATED, UserTask.State.COMPLETING)


def _names(value: Any, attr: str) -> list[str]:
    """Candidate users/groups: a list, or a comma-separated string (as Camunda accepts both)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise IncidentRaised("EXTRACT_VALUE_ERROR", f"{attr} must be a list of strings or a comma-separated string, "
                                                f"got {value!r}")


def _date(value: Any, attr: str) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise IncidentRaised("EXTRACT_VALUE_ERROR",
                             f"{attr} must be an ISO 8601 date and time with an offset, got {value!r}")
    return parsed


class UserTaskBehavior(Behavior):
    """Creates a UserTask row (assignee, candidates, schedule, priority, form) and waits.

    The Tasklist and the API change it only through commands: ASSIGN_USER_TASK, and
    COMPLETE_USER_TASK, which completes the element with the submitted variables.
    """

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        props = element.props

        def value(attr: str) -> Any:
            return evaluate(run, ei.key, props[attr]) if attr in props else None

        assignee = value("assignee")
        if assignee is not None and not isinstance(assignee, str):
            raise IncidentRaised("EXTRACT_VALUE_ERROR", f"assignee must be a string, got {assignee!r}")
        priority = value("priority")
        try:
            priority = 50 if priority in (None, "") else int(priority)
        except (TypeError, ValueError):
            raise IncidentRaised("EXTRACT_VALUE_ERROR", f"priority must be a number, got {priority!r}") from None
        if not 0 <= priority <= 100:
            raise IncidentRaised("EXTRACT_VALUE_ERROR", f"priority must be between 0 and 100, got {priority}")
        users = _names(value("candidateUsers"), "candidateUsers")
        groups = _names(value("candidateGroups"), "candidateGroups")
        creating = bool(listeners.of(element, "creating"))
        task = UserTask(
            **run.element_work(ei),
            process_name=run.definition.name or "", business_key=run.instance.business_key or "",
            name=element.name, state=UserTask.State.CREATING if creating else UserTask.State.CREATED,
            assignee=assignee or "", candidate_users=users,
            candidate_groups=groups, due_date=_date(value("dueDate"), "dueDate"),
            follow_up_date=_date(value("followUpDate"), "followUpDate"), priority=priority,
            form_key=props.get("formKey", ""), form_id=str(value("formId") or ""),
            external_form_reference=props.get("externalReference", ""), custom_headers=props.get("headers", {}),
            creation_date=run.now,
        )
        candidates = [UserTaskCandidate(task=task, tenant_id=run.tenant_id, kind=UserTaskCandidate.Kind.USER, name=u)
                      for u in users]
        candidates += [UserTaskCandidate(task=task, tenant_id=run.tenant_id, kind=UserTaskCandidate.Kind.GROUP,
                                         name=g) for g in groups]
        run.add_user_task(task, candidates)
        ei.data["userTaskKey"] = task.key
        if creating:
            # Camunda 8: the task is CREATING (not yet in anyone's list) until its creating listeners are done.
            run.record("USER_TASK_CREATING", ei, userTaskKey=str(task.key), assignee=task.assignee)
            listeners.open_or_incident(run, ei, element, "creating", 0)
        else:
            run.record("USER_TASK_CREATED", ei, userTaskKey=str(task.key), assignee=task.assignee)

    def terminate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        task = run.user_tasks.get(ei.data.get("userTaskKey", 0))
        if task is not None and task.state in OPEN_STATES:
            task.state = UserTask.State.CANCELED
            run.touch("user_tasks", task)
            run.closed_tasks.append(task.key)
            run.record("USER_TASK_CANCELED", ei, userTaskKey=str(task.key))


# -- task listeners (zeebe:taskListeners): completion requested, a listener's result, the last one done ---------


def request_completion(run: InstanceRun, ei: ElementInstance, task: UserTask, variables: dict[str, Any],
                       completed_by: str) -> None:
    """COMPLETE_USER_TASK: with completing listeners the task stays COMPLETING until they are done."""
    element = run.element(ei.element_id)
    if listeners.of(element, "completing"):
        ei.data["completion"] = {"variables": variables, "completedBy": completed_by}
        run.record("USER_TASK_COMPLETING", ei, userTaskKey=str(task.key))
        listeners.open_or_incident(run, ei, element, "completing", 0)
        return
    _complete_task(run, ei, task, variables, completed_by)


def listener_result(run: InstanceRun, ei: ElementInstance, event: str, result: dict[str, Any]) -> bool:
    """Apply what a task listener's job answered (`result`); False when it denied the completion.

    A denied completion is withdrawn: the task is CREATED again and the submitted variables are dropped.
    Corrections (assignee, dueDate, followUpDate, priority) are applied to the task as they come.
    """
    task = run.user_tasks[ei.data["userTaskKey"]]
    if event == "completing" and result.get("denied"):
        ei.data.pop("completion", None)
        task.state = UserTask.State.CREATED
        run.touch("user_tasks", task)
        run.touch("elements", ei)
        run.record("USER_TASK_COMPLETION_DENIED", ei, userTaskKey=str(task.key),
                   deniedReason=str(result.get("deniedReason") or ""))
        return False
    corrections = result.get("corrections") or {}
    if corrections:
        if "assignee" in corrections:
            task.assignee = str(corrections["assignee"] or "")[:255]
        for attr, column in (("dueDate", "due_date"), ("followUpDate", "follow_up_date")):
            if attr in corrections:
                setattr(task, column, _date(corrections[attr], attr))
        if corrections.get("priority") is not None:
            task.priority = int(corrections["priority"])
        run.touch("user_tasks", task)
        run.record("USER_TASK_CORRECTED", ei, userTaskKey=str(task.key), corrected=sorted(corrections))
    return True


def task_listeners_done(run: InstanceRun, ei: ElementInstance, event: str) -> None:
    """The last task listener of an event completed: the task is created, or its completion goes through."""
    task = run.user_tasks[ei.data["userTaskKey"]]
    if event == "creating":
        task.state = UserTask.State.CREATED
        run.touch("user_tasks", task)
        run.record("USER_TASK_CREATED", ei, userTaskKey=str(task.key), assignee=task.assignee)
        return
    pending = ei.data.pop("completion", None) or {}
    run.touch("elements", ei)
    _complete_task(run, ei, task, pending.get("variables") or {}, str(pending.get("completedBy") or ""))


def _complete_task(run: InstanceRun, ei: ElementInstance, task: UserTask, variables: dict[str, Any],
                   completed_by: str) -> None:
    task.state = UserTask.State.COMPLETED
    task.completion_date = run.now
    task.completed_by = (completed_by or task.assignee or "")[:255]
    run.touch("user_tasks", task)
    run.closed_tasks.append(task.key)
    run.record("USER_TASK_COMPLETED", ei, userTaskKey=str(task.key))
    set_result(run, ei, run.element(ei.element_id), variables)
    complete(run, ei)
