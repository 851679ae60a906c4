"""User task actions for the API: assign, unassign, update and complete. Each checks the task and writes a
command the engine applies (ASSIGN_USER_TASK, UPDATE_USER_TASK, COMPLETE_USER_TASK); assignments also
change the task row at once, race-free, through the Tasklist's claim actions (unless assigning task
listeners decide them). A task whose transition waits for its task listeners is ASSIGNING, UPDATING or
COMPLETING meanwhile, and refuses another transition (409) until they are done."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from engine.actions.jobs import check_task_changes
from engine.actions.task_claims import claim_task, hand_over_task, unclaim_task
from engine.actions.task_transitions import Transition, begin
from engine.audit import record
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import Command, UserTask
from engine.queries.definitions import task_listens
from engine.rights import check_completion
from engine.store.commands import submit


def _lock_task(tenant_ids: list[int], key: int) -> UserTask:
    task = UserTask.objects.select_for_update().filter(key=key, tenant_id__in=tenant_ids).first()
    if task is None:
        raise NotFound(f"no user task with key {key}")
    return task


def complete_user_task(tenant_ids: list[int], key: int, variables: dict[str, Any] | None, actor: str,
                       now: datetime, *, as_user: str | None = None) -> Transition | None:
    """Complete an open task with the submitted variables (they go up like a job's, or through output mappings).

    Returns the transition to wait for when completing task listeners decide it, else None.

    `as_user`: the person completing it, who must hold the task (engine.rights.check_completion);
    None only for callers whose role may manage tasks.
    """
    if variables is not None and not isinstance(variables, dict):
        raise InvalidInput("variables must be a JSON object")
    with transaction.atomic():
        task = _lock_task(tenant_ids, key)
        if task.state != UserTask.State.CREATED:
            raise Conflict(f"user task {key} is {task.state}; only a created task can be completed"
                           + ("" if task.state in _ENDED else " (its task listeners are at work; try again later)"))
        check_completion(task.assignee, as_user)
        # Marked at once so a second completion is refused here, before the engine applies the first.
        task.state = UserTask.State.COMPLETING
        task.save(update_fields=["state"])
        submit(task.tenant_id, task.process_instance_key, Command.Kind.COMPLETE_USER_TASK,
               {"userTaskKey": str(key), "variables": variables or {}, "completedBy": actor}, actor, now)
        record(task.tenant_id, actor, "user-task.complete", target_type="user-task", target_key=key,
               instance_key=task.process_instance_key, before={"assignee": task.assignee},
               after={"variables": sorted(variables or {})}, now=now)
        if task_listens(task.process_definition_key, task.element_id, "completing"):
            return begin(task, "completing")
    return None


_ENDED = (UserTask.State.COMPLETED, UserTask.State.CANCELED)


def update_user_task(tenant_ids: list[int], key: int, changeset: dict[str, Any] | None, action: str, actor: str,
                     now: datetime) -> Transition | None:
    """Change an open task's dueDate, followUpDate, candidateUsers, candidateGroups or priority (null: unchanged).

    The engine applies it (UPDATE_USER_TASK); with updating task listeners the task is UPDATING until they agreed
    (a denial puts it back as it was). Returns the transition to wait for then, else None.
    """
    changes = check_task_changes(changeset, "changeset", ("dueDate", "followUpDate", "candidateUsers",
                                                          "candidateGroups", "priority"))
    with transaction.atomic():
        task = _lock_task(tenant_ids, key)
        if task.state != UserTask.State.CREATED:
            raise Conflict(f"user task {key} is {task.state}; only a created task can be updated"
                           + ("" if task.state in _ENDED else " (its task listeners are at work; try again later)"))
        listened = task_listens(task.process_definition_key, task.element_id, "updating")
        if listened:
            # Marked at once so another transition is refused here until the listeners are done.
            task.state = UserTask.State.UPDATING
            task.save(update_fields=["state"])
        submit(task.tenant_id, task.process_instance_key, Command.Kind.UPDATE_USER_TASK,
               {"userTaskKey": str(key), "changeset": changes, "action": action or "update"}, actor, now)
        record(task.tenant_id, actor, "user-task.update", target_type="user-task", target_key=key,
               instance_key=task.process_instance_key, after=changes, now=now)
        return begin(task, "updating") if listened else None


def assign_user_task(tenant_ids: list[int], key: int, assignee: str, actor: str, now: datetime,
                     allow_override: bool = True, action: str = "") -> Transition | None:
    """Assign an open task; with allow_override=False (a claim) a task assigned to someone else is refused.

    Both are conditional UPDATEs of the task row (engine/actions/task_claims.py), final at commit:
    of two claims at once exactly one wins, as in the Tasklist.
    """
    if not isinstance(assignee, str) or not assignee.strip():
        raise InvalidInput("assignee must be a non-empty string")
    # Camunda's `action` (what the task listeners see): the caller's, else "assign" for this endpoint.
    action = (action or "assign")[:64]
    if allow_override:
        return hand_over_task(tenant_ids, key, "", assignee, actor, now, any_assignee=True, action=action)
    return claim_task(tenant_ids, key, assignee, actor, now, action=action)


def unassign_user_task(tenant_ids: list[int], key: int, actor: str, now: datetime, *,
                       as_user: str | None = None) -> Transition | None:
    """Give a task back to its candidates; `as_user` (a person without MANAGE_TASKS) only their own."""
    return unclaim_task(tenant_ids, key, as_user or "", actor, now, any_assignee=as_user is None)
