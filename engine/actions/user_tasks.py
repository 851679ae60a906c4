"""User task actions for the API: assign, unassign and complete. Each checks the task and writes a
command the engine applies (ASSIGN_USER_TASK, COMPLETE_USER_TASK); assignments also change the task
row at once, race-free, through the Tasklist's claim actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from engine.actions.task_claims import claim_task, hand_over_task, unclaim_task
from engine.audit import record
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import Command, UserTask
from engine.rights import check_completion
from engine.store.commands import submit


def _lock_task(tenant_ids: list[int], key: int) -> UserTask:
    task = UserTask.objects.select_for_update().filter(key=key, tenant_id__in=tenant_ids).first()
    if task is None:
        raise NotFound(f"no user task with key {key}")
    return task


def complete_user_task(tenant_ids: list[int], key: int, variables: dict[str, Any] | None, actor: str,
                       now: datetime, *, as_user: str | None = None) -> None:
    """Complete an open task with the submitted variables (they go up like a job's, or through output mappings).

    `as_user`: the person completing it, who must hold the task (engine.rights.check_completion);
    None only for callers whose role may manage tasks.
    """
    if variables is not None and not isinstance(variables, dict):
        raise InvalidInput("variables must be a JSON object")
    with transaction.atomic():
        task = _lock_task(tenant_ids, key)
        if task.state != UserTask.State.CREATED:
            raise Conflict(f"user task {key} is {task.state}; only a created task can be completed")
        check_completion(task.assignee, as_user)
        # Marked at once so a second completion is refused here, before the engine applies the first.
        task.state = UserTask.State.COMPLETING
        task.save(update_fields=["state"])
        submit(task.tenant_id, task.process_instance_key, Command.Kind.COMPLETE_USER_TASK,
               {"userTaskKey": str(key), "variables": variables or {}, "completedBy": actor}, actor, now)
        record(task.tenant_id, actor, "user-task.complete", target_type="user-task", target_key=key,
               instance_key=task.process_instance_key, before={"assignee": task.assignee},
               after={"variables": sorted(variables or {})}, now=now)


def assign_user_task(tenant_ids: list[int], key: int, assignee: str, actor: str, now: datetime,
                     allow_override: bool = True) -> None:
    """Assign an open task; with allow_override=False (a claim) a task assigned to someone else is refused.

    Both are conditional UPDATEs of the task row (engine/actions/task_claims.py), final at commit:
    of two claims at once exactly one wins, as in the Tasklist.
    """
    if not isinstance(assignee, str) or not assignee.strip():
        raise InvalidInput("assignee must be a non-empty string")
    if allow_override:
        hand_over_task(tenant_ids, key, "", assignee, actor, now, any_assignee=True)
    else:
        claim_task(tenant_ids, key, assignee, actor, now)


def unassign_user_task(tenant_ids: list[int], key: int, actor: str, now: datetime, *,
                       as_user: str | None = None) -> None:
    """Give a task back to its candidates; `as_user` (a person without MANAGE_TASKS) only their own."""
    unclaim_task(tenant_ids, key, as_user or "", actor, now, any_assignee=as_user is None)
