"""Rows a run reads or writes beyond the walking skeleton's tables.

Kept apart from loop.py so the loop keeps one call in `_load_runs` and one in `_flush`:
- user tasks of the instances (open ones, and any named by a command), with their
  candidate rows created on task creation and deleted when the task closes;
- child process instances spawned by call activities, and commands a run sends to
  other instances (child creation/cancellation, completion, error or escalation back to a parent);
- signals thrown by the batch's instances, broadcast once their own rows are written.
"""

from __future__ import annotations

import functools

from django.db.models import Q

from engine.graph import Graph
from engine.messages.correlation import correlate_buffered, take_back
from engine.messages.signals import broadcast
from engine.models import (
    Command,
    DecisionInstance,
    MessageSubscription,
    ProcessInstance,
    SignalSubscription,
    Timer,
    UserTask,
    UserTaskCandidate,
)
from engine.runtime.state import InstanceRun
from engine.store import flush as bulk
from engine.store import sql

OPEN_TASK_STATES = (UserTask.State.CREATING, UserTask.State.CREATED, UserTask.State.ASSIGNING,
                    UserTask.State.UPDATING, UserTask.State.COMPLETING, UserTask.State.CANCELING)


WAIT_TABLES = (
    ("timers", Timer, (Timer.State.ACTIVE,), "timerKey"),
    ("message_subscriptions", MessageSubscription,
     (MessageSubscription.State.ACTIVE, MessageSubscription.State.CORRELATED), "subscriptionKey"),
    ("signal_subscriptions", SignalSubscription, (SignalSubscription.State.ACTIVE,), None),
)
# Open rows of the batch's instances, plus the rows its commands name (which may be closed).
OPEN_OR_NAMED = (
    "(process_instance_key = ANY(%s::bigint[]) AND state = ANY(%s::text[])) "
    "OR (key = ANY(%s::bigint[]) AND process_instance_key = ANY(%s::bigint[])) ORDER BY key"
)


READ_TABLES = (("user_tasks", UserTask, OPEN_TASK_STATES, "userTaskKey"), *WAIT_TABLES)


def tables_of(graph: Graph) -> frozenset[str]:
    """The tables an instance of this graph can have rows in: user tasks from user task elements, timers
    and subscriptions from events with such a definition (engine/runtime/waits.py opens them from nothing
    else). Cached on the graph. A migration closes the waits its target does not listen for."""

    def build() -> frozenset[str]:
        found = set()
        for element in graph.elements.values():
            if element.kind == "userTask":
                found.add("user_tasks")
            kind = (element.props.get("event") or {}).get("type")
            if kind in WAIT_TABLE_OF_EVENT:
                found.add(WAIT_TABLE_OF_EVENT[kind])
        return frozenset(found)

    return graph._cached("row_tables", build)


WAIT_TABLE_OF_EVENT = {"timer": "timers", "message": "message_subscriptions", "signal": "signal_subscriptions"}


def reads(keys: list[int], commands: list[Command], graphs: dict[int, Graph]) -> list[sql.Read]:
    """The reads of user tasks and wait states for these instances (run with the loop's own reads).

    A table is read only for the instances whose process can have rows in it (and for rows a command
    names): start → service task → end reads none of the four, four statements less per batch."""
    out = []
    for table, model, open_states, payload_key in READ_TABLES:
        named = [int(c.payload[payload_key]) for c in commands if payload_key and payload_key in c.payload]
        wanted = [k for k in keys if table in tables_of(graphs[k])]
        if not wanted and not named:
            continue
        params = (wanted, list(open_states), named, keys)
        out.append(sql.Read(model, OPEN_OR_NAMED, params, functools.partial(_open_or_named, model, *params)))
    return out


def _open_or_named(model: type, wanted: list[int], states: list[str], named: list[int], keys: list[int]):  # type: ignore[no-untyped-def]
    return model.objects.filter(
        Q(process_instance_key__any=wanted, state__in=states) | Q(key__any=named, process_instance_key__any=keys)
    ).order_by("key")


def load(runs: dict[int, InstanceRun], done: list[sql.Read]) -> None:
    """Hand the rows `reads` fetched to their runs."""
    for read in done:
        if read.model is UserTask:
            for task in read.rows:
                runs[task.process_instance_key].user_tasks[task.key] = task
            continue
        table = _TABLE_OF_MODEL[read.model]
        for row in read.rows:
            runs[row.process_instance_key].add_wait(table, row, row.element_instance_key, created=False)


_TABLE_OF_MODEL = {model: table for table, model, _, _ in WAIT_TABLES}


def queue(runs: list[InstanceRun], replay: bool, created: dict[str, list], dirty: dict[str, list],
          writes: bulk.Writes) -> None:
    """Add this batch's plain rows of these tables (`created`, `dirty`: every run's, by table) to the loop's
    writes, which are sent before `flush` (one statement for a small batch)."""
    for table, model, _, _ in WAIT_TABLES:
        writes.insert(model, created[table])
        writes.update(model, dirty[table], ["state"])
    writes.insert(UserTask, created["user_tasks"])
    writes.update(UserTask, dirty["user_tasks"],
                  ["state", "assignee", "completion_date", "completed_by", "due_date", "follow_up_date", "priority",
                   "candidate_users", "candidate_groups"])
    if not replay:
        writes.insert(DecisionInstance, [d for run in runs for d in run.decision_instances])


def flush(runs: list[InstanceRun], replay: bool) -> bool:
    """Write what `queue` did not (after the queued rows were sent: buffered messages update the subscriptions
    opened here); True when commands may have been written (the drain then looks again)."""
    opened = [row for run in runs for row in run.created["message_subscriptions"].values()
              if row.state == MessageSubscription.State.ACTIVE]
    recandidated = [k for run in runs for k in run.recandidated]
    if recandidated:
        UserTaskCandidate.objects.filter(task_id__in=recandidated).delete()
    candidates = [c for run in runs for c in run.candidates]
    if candidates:
        UserTaskCandidate.objects.bulk_create(candidates, batch_size=1000)
    closed = [k for run in runs for k in run.closed_tasks]
    if closed:
        UserTaskCandidate.objects.filter(task_id__in=closed).delete()
    for run in runs:  # migrations only (rare): one UPDATE per renamed row
        for model, key, fields in run.relabels:
            model.objects.filter(pk=key).update(**fields)
    if replay:
        return False  # children and their commands were written when the commands first ran
    spawned = [pi for run in runs for pi in run.spawned]
    if spawned:
        ProcessInstance.objects.bulk_create(spawned)
    outbox = [c for run in runs for c in run.outbox]
    if outbox:
        # No wake-up needed: the drain that wrote them looks again (loop.drain).
        Command.objects.bulk_create(outbox)
    for run in runs:
        if run.refused_messages:  # before the buffered hand-over below: a new subscription may take them
            take_back(run.instance.key, run.refused_messages)
    if opened:
        # Buffered messages (published earlier, still within their time to live at the moment the
        # subscription opened) go to the new subscriptions.
        for sub in opened:
            correlate_buffered(sub.tenant_id, [sub], "engine", sub.created_at)
    thrown = False
    for run in runs:
        # Signal throw events: broadcast after this batch's own subscriptions are written, so an
        # instance catches a signal it throws on another path (Camunda 8 does too).
        for name, variables, now in run.thrown_signals:
            broadcast(run.tenant_id, name, variables, "engine", now)
            thrown = True
    return bool(outbox or opened or thrown)
