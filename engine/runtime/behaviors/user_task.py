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
from engine.runtime.termination import terminated
from engine.runtime.tokens import complete
from engine.runtime.variables import set_result

OPEN_STATES = (UserTask.State.CREATING, UserTask.State.CREATED, UserTask.State.ASSIGNING, UserTask.State.UPDATING,
               UserTask.State.COMPLETING)


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
        # Camunda 8.8: an assignee the process gives is assigned after creation, through the assigning listeners.
        assign_later = bool(assignee) and bool(listeners.of(element, "assigning"))
        task = UserTask(
            **run.element_work(ei),
            process_name=run.definition.name or "", business_key=run.instance.business_key or "",
            name=element.name, state=UserTask.State.CREATING if creating else UserTask.State.CREATED,
            assignee="" if assign_later else assignee or "", candidate_users=users,
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
        if assign_later:
            ei.data["assignOnCreation"] = assignee
        if creating:
            # Camunda 8: the task is CREATING (not yet in anyone's list) until its creating listeners are done.
            run.record("USER_TASK_CREATING", ei, userTaskKey=str(task.key), assignee=task.assignee)
            listeners.open_or_incident(run, ei, element, "creating", 0)
        else:
            _created(run, ei, task)

    def terminate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        """The task is canceled; with canceling listeners (Camunda 8.8) it is CANCELING until they are done, and
        the element waits for them (engine/runtime/termination.py ends it through `task_listeners_done`)."""
        task = run.user_tasks.get(ei.data.get("userTaskKey", 0))
        if task is None or task.state not in OPEN_STATES:
            return
        if not listeners.of(element, "canceling"):
            _canceled(run, ei, task)
            return
        # A transition under way is withdrawn: the listeners see the task as it was before it (Camunda 8.8).
        for pending in ("completion", "transition", "assignOnCreation", "incidentPhase"):
            ei.data.pop(pending, None)
        _restore(run, task, ei.data.pop("before", None))
        task.state = UserTask.State.CANCELING
        run.touch("user_tasks", task)
        run.touch("elements", ei)
        run.settled_tasks.append(task.key)  # a request waiting for the withdrawn transition hears of it
        run.resolve_incidents_of(ei, "user task canceled")  # what they stopped is not retried (Zeebe does the same)
        run.record("USER_TASK_CANCELING", ei, userTaskKey=str(task.key))
        listeners.open_or_incident(run, ei, element, "canceling", 0)


# -- task listeners (zeebe:taskListeners): completion requested, a listener's result, the last one done ---------


def request_completion(run: InstanceRun, ei: ElementInstance, task: UserTask, variables: dict[str, Any],
                       completed_by: str) -> None:
    """COMPLETE_USER_TASK: with completing listeners the task stays COMPLETING until they are done."""
    element = run.element(ei.element_id)
    if listeners.of(element, "completing"):
        ei.data["completion"] = {"variables": variables, "completedBy": completed_by}
        ei.data["before"] = _snapshot(task)
        run.record("USER_TASK_COMPLETING", ei, userTaskKey=str(task.key))
        listeners.open_or_incident(run, ei, element, "completing", 0)
        return
    _complete_task(run, ei, task, variables, completed_by)


def request_assignment(run: InstanceRun, ei: ElementInstance, task: UserTask, assignee: str, action: str) -> None:
    """ASSIGN_USER_TASK (assign, claim, unassign): with assigning listeners the task is ASSIGNING until they are
    done; the new assignee is on the task meanwhile (the listeners see it) and a denial puts the old one back."""
    element = run.element(ei.element_id)
    if not listeners.of(element, "assigning"):
        if task.assignee != assignee:
            task.assignee = assignee
            run.touch("user_tasks", task)
        run.record("USER_TASK_ASSIGNED" if assignee else "USER_TASK_UNASSIGNED", ei, userTaskKey=str(task.key),
                   assignee=assignee)
        return
    ei.data["before"] = _snapshot(task)
    ei.data["transition"] = {"action": action, "changed": ["assignee"]}  # what its listeners' jobs show
    task.assignee = assignee
    task.state = UserTask.State.ASSIGNING
    run.touch("user_tasks", task)
    run.touch("elements", ei)
    run.record("USER_TASK_ASSIGNING", ei, userTaskKey=str(task.key), assignee=assignee, action=action)
    listeners.open_or_incident(run, ei, element, "assigning", 0)


def request_update(run: InstanceRun, ei: ElementInstance, task: UserTask, changeset: dict[str, Any],
                   action: str) -> None:
    """UPDATE_USER_TASK: the changes go on the task at once; with updating listeners it is UPDATING until they are
    done, and a denial puts the task back as it was."""
    element = run.element(ei.element_id)
    has_listeners = bool(listeners.of(element, "updating"))
    if has_listeners:
        ei.data["before"] = _snapshot(task)
        ei.data["transition"] = {"action": action, "changed": sorted(changeset)}
    _apply(run, task, changeset)
    if not has_listeners:
        run.record("USER_TASK_UPDATED", ei, userTaskKey=str(task.key), changed=sorted(changeset), action=action)
        return
    task.state = UserTask.State.UPDATING
    run.touch("user_tasks", task)
    run.touch("elements", ei)
    run.record("USER_TASK_UPDATING", ei, userTaskKey=str(task.key), changed=sorted(changeset), action=action)
    listeners.open_or_incident(run, ei, element, "updating", 0)


_DENIED_RECORD = {"assigning": "USER_TASK_ASSIGNMENT_DENIED", "updating": "USER_TASK_UPDATE_DENIED",
                  "completing": "USER_TASK_COMPLETION_DENIED"}


def listener_result(run: InstanceRun, ei: ElementInstance, event: str, result: dict[str, Any]) -> bool:
    """Apply what a task listener's job answered (`result`); False when it denied the transition.

    Camunda 8.8: corrections go on the task at once (the next listener sees them); a denied assignment,
    update or completion is withdrawn and the task is back as it was before the transition, corrections
    of earlier listeners of the same transition included. Creating and canceling cannot be denied (the API
    refuses such an answer); a canceling listener's corrections go on the task as it is canceled.
    """
    task = run.user_tasks[ei.data["userTaskKey"]]
    if event in _DENIED_RECORD and result.get("denied"):
        ei.data.pop("completion", None)
        ei.data.pop("transition", None)
        _restore(run, task, ei.data.pop("before", None))
        task.state = UserTask.State.CREATED
        run.touch("user_tasks", task)
        run.touch("elements", ei)
        run.record(_DENIED_RECORD[event], ei, userTaskKey=str(task.key),
                   deniedReason=str(result.get("deniedReason") or ""))
        run.settled_tasks.append(task.key)  # wakes the request waiting for the decision
        return False
    corrections = result.get("corrections") or {}
    if corrections:
        transition = ei.data.get("transition")
        if transition is not None:  # the next listener sees the corrected attributes as changed too
            transition["changed"] = sorted({*transition.get("changed", ()), *corrections})
            run.touch("elements", ei)
        _apply(run, task, corrections)
        run.record("USER_TASK_CORRECTED", ei, userTaskKey=str(task.key), corrected=sorted(corrections))
    return True


def task_listeners_done(run: InstanceRun, ei: ElementInstance, event: str) -> None:
    """The last task listener of an event completed: the transition is final."""
    task = run.user_tasks[ei.data["userTaskKey"]]
    if event == "canceling":
        _canceled(run, ei, task)
        terminated(run, ei)  # the element ends, and what terminated it goes on
        return
    ei.data.pop("before", None)
    transition = ei.data.pop("transition", None) or {}
    run.touch("elements", ei)
    run.settled_tasks.append(task.key)  # wakes the request waiting for the decision
    if event == "creating":
        _created(run, ei, task)
        return
    if event in ("assigning", "updating"):
        task.state = UserTask.State.CREATED
        run.touch("user_tasks", task)
        if event == "assigning":
            run.record("USER_TASK_ASSIGNED" if task.assignee else "USER_TASK_UNASSIGNED", ei,
                       userTaskKey=str(task.key), assignee=task.assignee, action=transition.get("action", ""))
        else:
            run.record("USER_TASK_UPDATED", ei, userTaskKey=str(task.key), action=transition.get("action", ""))
        return
    pending = ei.data.pop("completion", None) or {}
    _complete_task(run, ei, task, pending.get("variables") or {}, str(pending.get("completedBy") or ""))


def _canceled(run: InstanceRun, ei: ElementInstance, task: UserTask) -> None:
    task.state = UserTask.State.CANCELED
    run.touch("user_tasks", task)
    run.closed_tasks.append(task.key)
    run.record("USER_TASK_CANCELED", ei, userTaskKey=str(task.key))


def _created(run: InstanceRun, ei: ElementInstance, task: UserTask) -> None:
    """The task is CREATED; an assignee the process gave goes on through the assigning listeners."""
    task.state = UserTask.State.CREATED
    run.touch("user_tasks", task)
    run.record("USER_TASK_CREATED", ei, userTaskKey=str(task.key), assignee=task.assignee)
    assignee = ei.data.pop("assignOnCreation", None)
    if assignee and not task.assignee:  # a creating listener's correction wins (Camunda 8.8)
        request_assignment(run, ei, task, str(assignee), "assign")


# -- the task's attributes: what a transition may change, snapshot and restore --------------------------------


def _snapshot(task: UserTask) -> dict[str, Any]:
    return {"assignee": task.assignee, "dueDate": task.due_date.isoformat() if task.due_date else None,
            "followUpDate": task.follow_up_date.isoformat() if task.follow_up_date else None,
            "priority": task.priority, "candidateUsers": list(task.candidate_users or []),
            "candidateGroups": list(task.candidate_groups or [])}


def _restore(run: InstanceRun, task: UserTask, before: dict[str, Any] | None) -> None:
    if before is None:
        return
    now = _snapshot(task)
    # None in a snapshot is "no date": cleared with "" (None would leave the date as it is).
    changed = {name: "" if value is None else value for name, value in before.items() if now.get(name) != value}
    if changed:
        _apply(run, task, changed)


def _apply(run: InstanceRun, task: UserTask, changes: dict[str, Any]) -> None:
    """Set the task's attributes from `changes` (checked before: by the action or the job result's check).

    None leaves an attribute as it is (Camunda's corrections); "" clears a date.
    """
    if "assignee" in changes and changes["assignee"] is not None:
        task.assignee = str(changes["assignee"])[:255]
    for attr, column in (("dueDate", "due_date"), ("followUpDate", "follow_up_date")):
        if changes.get(attr) is not None:
            setattr(task, column, _date(changes[attr], attr))
    if changes.get("priority") is not None:
        task.priority = int(changes["priority"])
    users, groups = changes.get("candidateUsers"), changes.get("candidateGroups")
    if users is not None or groups is not None:
        task.candidate_users = list(users) if users is not None else list(task.candidate_users or [])
        task.candidate_groups = list(groups) if groups is not None else list(task.candidate_groups or [])
        run.replace_candidates(task, [
            *(UserTaskCandidate(task=task, tenant_id=run.tenant_id, kind=UserTaskCandidate.Kind.USER, name=u)
              for u in task.candidate_users),
            *(UserTaskCandidate(task=task, tenant_id=run.tenant_id, kind=UserTaskCandidate.Kind.GROUP, name=g)
              for g in task.candidate_groups)])
    run.touch("user_tasks", task)


def _complete_task(run: InstanceRun, ei: ElementInstance, task: UserTask, variables: dict[str, Any],
                   completed_by: str) -> None:
    ei.data.pop("before", None)
    task.state = UserTask.State.COMPLETED
    task.completion_date = run.now
    task.completed_by = (completed_by or task.assignee or "")[:255]
    run.touch("user_tasks", task)
    run.closed_tasks.append(task.key)
    run.record("USER_TASK_COMPLETED", ei, userTaskKey=str(task.key))
    set_result(run, ei, run.element(ei.element_id), variables)
    complete(run, ei)
