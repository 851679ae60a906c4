"""Waiting for a user task's listeners: a transition (assigning, updating, completing) that task listeners
decide (Camunda 8.8) is asked for by an action and ends when the engine applied the last listener's answer.

Callers that answer a person or a client once it is decided (the /v2 user task endpoints, as Camunda's do;
the Tasklist, briefly) wait with `await_transition`: woken by the engine's notification after commit, with
a periodic re-check of PostgreSQL. Whether the transition was denied is told by the engine's denial
record of the task, counted when the action asked (under the task's row lock, before the engine could
decide) and again once the task settled.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from engine.models import Event, UserTask
from engine.store.notify import task_channel, wait_until

DEFAULT_WAIT_MS = 10_000  # FLOWSYNC_TASK_LISTENER_WAIT_MS: how long a /v2 request waits for the listeners


def api_wait_seconds() -> float:
    return int(getattr(settings, "FLOWSYNC_TASK_LISTENER_WAIT_MS", DEFAULT_WAIT_MS)) / 1000


# The task states of a transition under way (its listeners decide it).
TRANSIENT = (UserTask.State.CREATING, UserTask.State.ASSIGNING, UserTask.State.UPDATING, UserTask.State.COMPLETING)
DENIED = {"assigning": "USER_TASK_ASSIGNMENT_DENIED", "updating": "USER_TASK_UPDATE_DENIED",
          "completing": "USER_TASK_COMPLETION_DENIED"}
_NOUN = {"assigning": "Assignment", "updating": "Update", "completing": "Completion"}


@dataclass(frozen=True)
class Transition:
    """A transition of a task that waits for its task listeners."""

    task_key: int
    instance_key: int
    event: str  # assigning | updating | completing
    denials_before: int


@dataclass(frozen=True)
class Outcome:
    state: str  # "done", "denied", "canceled" (the task was canceled meanwhile) or "pending" (not decided in time)
    reason: str = ""

    def message(self, t: Transition) -> str:
        if self.state == "canceled":
            return (f"{_NOUN[t.event]} of the user task with key '{t.task_key}' was not done: the task was canceled "
                    "meanwhile")
        if self.state == "denied":
            return (f"{_NOUN[t.event]} of the user task with key '{t.task_key}' was denied by a task listener. "
                    f"Reason to deny: '{self.reason}'")
        return (f"{_NOUN[t.event]} of the user task with key '{t.task_key}' waits for its task listeners; "
                "it goes on and will be decided when they complete")


def _denials(instance_key: int, task_key: int, event: str) -> list[str]:
    # An instance has few events: they are read by its key and picked here (a JSON containment filter
    # is PostgreSQL only).
    rows = Event.objects.filter(process_instance_key=instance_key)
    return [str(r.get("deniedReason") or "") for e in rows.order_by("id") for r in e.records
            if r.get("intent") == DENIED[event] and r.get("userTaskKey") == str(task_key)]


def begin(task: UserTask, event: str) -> Transition:
    """The transition an action just asked for (call inside its transaction, with the task row locked)."""
    return Transition(task.key, task.process_instance_key, event,
                      len(_denials(task.process_instance_key, task.key, event)))


def await_transition(t: Transition, timeout_seconds: float) -> Outcome:
    """Wait (outside any transaction) until the task's listeners decided, at most `timeout_seconds`."""

    def settled() -> str | None:
        state = UserTask.objects.filter(key=t.task_key).values_list("state", flat=True).first()
        return state if state is not None and state not in TRANSIENT else None

    state = wait_until(settled, [task_channel(t.task_key)], timeout_seconds)
    if state is None:
        return Outcome("pending")
    if state in (UserTask.State.CANCELING, UserTask.State.CANCELED):
        return Outcome("canceled")  # its element was terminated: the transition under way was withdrawn
    denials = _denials(t.instance_key, t.task_key, t.event)
    if len(denials) > t.denials_before:
        return Outcome("denied", denials[-1])
    return Outcome("done")
