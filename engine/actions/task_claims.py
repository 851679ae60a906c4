"""Claiming, unclaiming and handing over user tasks: atomic, race-free assignee changes.

Each is one conditional UPDATE of the task row inside the caller's tenants
(``... WHERE assignee = ''`` for a claim), so when two people claim the same task at once
exactly one UPDATE matches and the other learns who won. The change is final at commit; an
ASSIGN_USER_TASK command written in the same transaction lets the engine record it on the
instance's timeline (it sets the same assignee, in command order). No engine loop is needed
for the Tasklist to see the new assignee.

A task whose element has `assigning` task listeners (Camunda 8.8) is not reassigned here: the
same conditional UPDATE marks it ASSIGNING (so exactly one claim still wins) and the engine sets
the assignee once its listeners agreed; a listener may correct it or deny it. The functions return
a Transition then (engine/actions/task_transitions.py: what to wait for), None when the assignment
is final.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from engine.actions.task_transitions import Transition, begin
from engine.audit import record
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import Command, UserTask
from engine.queries.definitions import task_listens
from engine.store.commands import submit

CREATED = UserTask.State.CREATED


def claim_task(tenant_ids: list[int], key: int, user: str, actor: str, now: datetime,
               action: str = "claim") -> Transition | None:
    """Make `user` the assignee of an open, unassigned task. Claiming one's own task again is a no-op."""
    user = _name(user, "user")
    with transaction.atomic():
        task = _task(tenant_ids, key)
        qs = UserTask.objects.filter(key=key, tenant_id__in=tenant_ids, state=CREATED, assignee="")
        if not _assign(qs, task, user):
            task = _current(tenant_ids, key, "claimed")
            if task.assignee == user:
                return None
            raise Conflict(f"This task was already claimed by {task.assignee}.", assignee=task.assignee)
        return _record(task, user, actor, now, action)


def unclaim_task(
    tenant_ids: list[int], key: int, user: str, actor: str, now: datetime, *, any_assignee: bool = False,
    action: str = "unassign",
) -> Transition | None:
    """Give an open task back to its candidates. Only its assignee may, unless `any_assignee`."""
    with transaction.atomic():
        task = _task(tenant_ids, key)
        qs = UserTask.objects.filter(key=key, tenant_id__in=tenant_ids, state=CREATED)
        if not any_assignee:
            qs = qs.filter(assignee=user)
        if not _assign(qs.exclude(assignee=""), task, ""):
            task = _current(tenant_ids, key, "unclaimed")
            if task.assignee == "":
                return None
            raise Conflict(f"This task is assigned to {task.assignee}, not to you.", assignee=task.assignee)
        return _record(task, "", actor, now, action)


def hand_over_task(
    tenant_ids: list[int],
    key: int,
    from_user: str,
    to_user: str,
    actor: str,
    now: datetime,
    *,
    any_assignee: bool = False,
    action: str = "assign",
) -> Transition | None:
    """Pass an open task from its assignee to someone else (the caller checks who may receive it)."""
    to_user = _name(to_user, "the new assignee")
    with transaction.atomic():
        task = _task(tenant_ids, key)
        qs = UserTask.objects.filter(key=key, tenant_id__in=tenant_ids, state=CREATED)
        if not any_assignee:
            qs = qs.filter(assignee=from_user)
        if not _assign(qs, task, to_user):
            task = _current(tenant_ids, key, "handed over")
            holder = task.assignee or "nobody"
            raise Conflict(f"This task is assigned to {holder}, not to you.", assignee=task.assignee)
        return _record(task, to_user, actor, now, action)


def _name(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must be a non-empty name")
    return value.strip()[:255]


def _current(tenant_ids: list[int], key: int, verb: str) -> UserTask:
    task = UserTask.objects.filter(key=key, tenant_id__in=tenant_ids).only("key", "state", "assignee").first()
    if task is None:
        raise NotFound(f"no user task with key {key}")
    if task.state in (UserTask.State.ASSIGNING, UserTask.State.UPDATING, UserTask.State.COMPLETING):
        raise Conflict(f"This task is {task.get_state_display().lower()} (its task listeners are at work); "
                       f"it cannot be {verb} until they are done.")
    if task.state != CREATED:
        raise Conflict(f"This task is {task.get_state_display().lower()}; it can no longer be {verb}.")
    return task


def _task(tenant_ids: list[int], key: int) -> UserTask:
    task = (UserTask.objects.filter(key=key, tenant_id__in=tenant_ids)
            .only("key", "tenant_id", "process_instance_key", "process_definition_key", "element_id").first())
    if task is None:
        raise NotFound(f"no user task with key {key}")
    return task


def _assign(qs, task: UserTask, assignee: str) -> bool:  # type: ignore[no-untyped-def]
    """The conditional UPDATE: the assignee at once, or (with assigning listeners) ASSIGNING for the engine."""
    task.listened = task_listens(task.process_definition_key, task.element_id, "assigning")  # type: ignore[attr-defined]
    if task.listened:  # type: ignore[attr-defined]
        return bool(qs.update(state=UserTask.State.ASSIGNING))
    return bool(qs.update(assignee=assignee))


def _record(task: UserTask, assignee: str, actor: str, now: datetime, action: str) -> Transition | None:
    """The command and the audit entry; the transition to wait for when listeners decide it."""
    submit(task.tenant_id, task.process_instance_key, Command.Kind.ASSIGN_USER_TASK,
           {"userTaskKey": str(task.key), "assignee": assignee, "action": action}, actor, now)
    record(task.tenant_id, actor, "user-task.assign" if assignee else "user-task.unassign", target_type="user-task",
           target_key=task.key, instance_key=task.process_instance_key, after={"assignee": assignee}, now=now)
    return begin(task, "assigning") if task.listened else None  # type: ignore[attr-defined]
