"""Claiming, unclaiming and handing over user tasks: atomic, race-free assignee changes.

Each is one conditional UPDATE of the task row inside the caller's tenants
(``... WHERE assignee = ''`` for a claim), so when two people claim the same task at once
exactly one UPDATE matches and the other learns who won. The change is final at commit; an
ASSIGN_USER_TASK command written in the same transaction lets the engine record it on the
instance's timeline (it sets the same assignee, in command order). No engine loop is needed
for the Tasklist to see the new assignee.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from engine.audit import record
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import Command, UserTask
from engine.store.commands import submit

CREATED = UserTask.State.CREATED


def claim_task(tenant_ids: list[int], key: int, user: str, actor: str, now: datetime) -> None:
    """Make `user` the assignee of an open, unassigned task. Claiming one's own task again is a no-op."""
    user = _name(user, "user")
    with transaction.atomic():
        won = UserTask.objects.filter(key=key, tenant_id__in=tenant_ids, state=CREATED, assignee="").update(
            assignee=user
        )
        if not won:
            task = _current(tenant_ids, key, "claimed")
            if task.assignee == user:
                return
            raise Conflict(f"This task was already claimed by {task.assignee}.", assignee=task.assignee)
        _record(tenant_ids, key, user, actor, now)


def unclaim_task(
    tenant_ids: list[int], key: int, user: str, actor: str, now: datetime, *, any_assignee: bool = False
) -> None:
    """Give an open task back to its candidates. Only its assignee may, unless `any_assignee`."""
    with transaction.atomic():
        qs = UserTask.objects.filter(key=key, tenant_id__in=tenant_ids, state=CREATED)
        if not any_assignee:
            qs = qs.filter(assignee=user)
        if not qs.exclude(assignee="").update(assignee=""):
            task = _current(tenant_ids, key, "unclaimed")
            if task.assignee == "":
                return
            raise Conflict(f"This task is assigned to {task.assignee}, not to you.", assignee=task.assignee)
        _record(tenant_ids, key, "", actor, now)


def hand_over_task(
    tenant_ids: list[int],
    key: int,
    from_user: str,
    to_user: str,
    actor: str,
    now: datetime,
    *,
    any_assignee: bool = False,
) -> None:
    """Pass an open task from its assignee to someone else (the caller checks who may receive it)."""
    to_user = _name(to_user, "the new assignee")
    with transaction.atomic():
        qs = UserTask.objects.filter(key=key, tenant_id__in=tenant_ids, state=CREATED)
        if not any_assignee:
            qs = qs.filter(assignee=from_user)
        if not qs.update(assignee=to_user):
            task = _current(tenant_ids, key, "handed over")
            holder = task.assignee or "nobody"
            raise Conflict(f"This task is assigned to {holder}, not to you.", assignee=task.assignee)
        _record(tenant_ids, key, to_user, actor, now)


def _name(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must be a non-empty name")
    return value.strip()[:255]


def _current(tenant_ids: list[int], key: int, verb: str) -> UserTask:
    task = UserTask.objects.filter(key=key, tenant_id__in=tenant_ids).only("key", "state", "assignee").first()
    if task is None:
        raise NotFound(f"no user task with key {key}")
    if task.state != CREATED:
        raise Conflict(f"This task is {task.get_state_display().lower()}; it can no longer be {verb}.")
    return task


def _record(tenant_ids: list[int], key: int, assignee: str, actor: str, now: datetime) -> None:
    task = UserTask.objects.filter(key=key, tenant_id__in=tenant_ids).only("tenant_id", "process_instance_key").get()
    submit(task.tenant_id, task.process_instance_key, Command.Kind.ASSIGN_USER_TASK,
           {"userTaskKey": str(key), "assignee": assignee}, actor, now)
    record(task.tenant_id, actor, "user-task.assign" if assignee else "user-task.unassign", target_type="user-task",
           target_key=key, instance_key=task.process_instance_key, after={"assignee": assignee}, now=now)
