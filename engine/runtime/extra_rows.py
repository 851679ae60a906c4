"""Rows a run reads or writes beyond the walking skeleton's tables.

Kept apart from loop.py so the loop keeps one call in `_load_runs` and one in `_flush`:
- user tasks of the instances (open ones, and any named by a command), with their
  candidate rows created on task creation and deleted when the task closes;
- child process instances spawned by call activities, and commands a run sends to
  other instances (child creation/cancellation, completion or error back to a parent).
"""

from __future__ import annotations

from django.db.models import Q

from engine.models import (
    Command,
    MessageSubscription,
    ProcessInstance,
    SignalSubscription,
    Timer,
    UserTask,
    UserTaskCandidate,
)
from engine.runtime import flush as bulk
from engine.runtime.rows import load_rows
from engine.runtime.state import InstanceRun

OPEN_TASK_STATES = (UserTask.State.CREATED, UserTask.State.COMPLETING)


def load(runs: dict[int, InstanceRun], commands: list[Command]) -> None:
    if not runs:
        return
    task_keys = [int(c.payload["userTaskKey"]) for c in commands if "userTaskKey" in c.payload]
    task_filter = Q(process_instance_key__in=list(runs), state__in=OPEN_TASK_STATES)
    if task_keys:
        task_filter |= Q(key__in=task_keys, process_instance_key__in=list(runs))
    for task in UserTask.objects.filter(task_filter).order_by("key"):
        runs[task.process_instance_key].user_tasks[task.key] = task
    _load_waits(runs, commands)


WAIT_TABLES = (
    ("timers", Timer, (Timer.State.ACTIVE,), "timerKey"),
    ("message_subscriptions", MessageSubscription,
     (MessageSubscription.State.ACTIVE, MessageSubscription.State.CORRELATED), "subscriptionKey"),
    ("signal_subscriptions", SignalSubscription, (SignalSubscription.State.ACTIVE,), None),
)


def _load_waits(runs: dict[int, InstanceRun], commands: list[Command]) -> None:
    keys = list(runs)
    for table, model, open_states, payload_key in WAIT_TABLES:
        named = [int(c.payload[payload_key]) for c in commands if payload_key and payload_key in c.payload]
        wanted = Q(process_instance_key__any=keys, state__in=open_states)
        if named:
            wanted |= Q(key__in=named, process_instance_key__any=keys)
        for row in load_rows(model.objects.filter(wanted).order_by("key")):
            runs[row.process_instance_key].add_wait(table, row, row.element_instance_key, created=False)


def flush(runs: list[InstanceRun], replay: bool) -> None:
    opened: list[MessageSubscription] = []
    for table, model, _, _ in WAIT_TABLES:
        created = [row for run in runs for row in run.created[table].values()]
        bulk.insert(model, created)
        bulk.update(model, [row for run in runs for row in run.dirty[table].values()], ["state"])
        if table == "message_subscriptions":
            opened = [row for row in created if row.state == MessageSubscription.State.ACTIVE]
    tasks = [t for run in runs for t in run.created["user_tasks"].values()]
    bulk.insert(UserTask, tasks)
    candidates = [c for run in runs for c in run.candidates]
    if candidates:
        UserTaskCandidate.objects.bulk_create(candidates, batch_size=1000)
    bulk.update(UserTask, [t for run in runs for t in run.dirty["user_tasks"].values()],
                ["state", "assignee", "completion_date", "completed_by"])
    closed = [k for run in runs for k in run.closed_tasks]
    if closed:
        UserTaskCandidate.objects.filter(task_id__in=closed).delete()
    if replay:
        return  # children and their commands were written when the commands first ran
    spawned = [pi for run in runs for pi in run.spawned]
    if spawned:
        ProcessInstance.objects.bulk_create(spawned)
    outbox = [c for run in runs for c in run.outbox]
    if outbox:
        # No wake-up needed: the drain that wrote them loops until no command is pending.
        Command.objects.bulk_create(outbox)
    if opened:
        # Buffered messages (published earlier, still within their time to live at the moment the
        # subscription opened) go to the new subscriptions.
        from engine.actions.messages import correlate_buffered

        for sub in opened:
            correlate_buffered(sub.tenant_id, [sub], "engine", sub.created_at)
