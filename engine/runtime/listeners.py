"""Execution listeners (`zeebe:executionListeners`): jobs an element waits for, one at a time.

Camunda 8 semantics: start listeners run after the element's input mappings and before its
own work (the job, the user task, the wait, the first child); end listeners run after its
output mappings and before it completes and leaves. Each listener is a job of its `type`
(`kind` EXECUTION_LISTENER, `listenerEventType` START or END) with its own retries; the next
listener is created only when the previous one completed, in document order. A listener job
out of retries raises an EXECUTION_LISTENER_NO_RETRIES incident; resolving it makes the job
activatable again.

Task listeners (`zeebe:taskListeners` of a Camunda user task) are the same jobs (`kind` TASK_LISTENER,
`listenerEventType` CREATING or COMPLETING); what their completion does to the task (deny, correct)
belongs to `engine/runtime/behaviors/user_task.py`.

The listener being waited for is `ei.data["listener"]` = {"event", "index", "jobKey"}: while it
is there, the element neither starts its work nor completes. What happens when the last one
completed (start the work, or complete) belongs to `engine/runtime/steps.py`.
"""

from __future__ import annotations

from typing import Any

from engine.graph import Element
from engine.models import ElementInstance, Job
from engine.runtime.errors import IncidentRaised
from engine.runtime.expr import evaluate_int, evaluate_string
from engine.runtime.state import InstanceRun
from engine.store.rows import new_row

_OPEN = (Job.State.ACTIVATABLE, Job.State.ACTIVATED, Job.State.FAILED)


_EXECUTION_EVENTS = ("start", "end")


def of(element: Element, event: str) -> list[dict[str, Any]]:
    """The element's listeners of an event ("start"/"end", or a user task's "creating"/"completing"), in order."""
    found = element.props.get("listeners" if event in _EXECUTION_EVENTS else "taskListeners") or {}
    return found.get(event) or []


def waiting(ei: ElementInstance) -> bool:
    """Whether the element waits for a listener (its job, or the incident that stopped creating it)."""
    return "listener" in ei.data


def open_job(run: InstanceRun, ei: ElementInstance, element: Element, event: str, index: int) -> None:
    """Create the job of the element's `index`-th listener of `event` (may raise IncidentRaised)."""
    ei.data["listener"] = {"event": event, "index": index}  # set first: an incident retries this listener
    run.touch("elements", ei)
    listener = of(element, event)[index]
    job_type = evaluate_string(run, ei.key, listener["type"], "the listener's job type")
    retries = evaluate_int(run, ei.key, listener.get("retries", "3"), "the listener's job retries")
    # Camunda 8.8: a task listener's job carries the user task's task headers; an execution listener's has none.
    headers = dict(element.props.get("headers") or {}) if event not in _EXECUTION_EVENTS else {}
    job = new_row(Job, **run.element_work(ei),
        type=job_type, retries=retries, custom_headers=headers, state=Job.State.ACTIVATABLE,
        kind=Job.Kind.EXECUTION_LISTENER if event in _EXECUTION_EVENTS else Job.Kind.TASK_LISTENER,
        listener_event_type=event.upper(), created_at=run.now,
    )
    run.add_job(job)
    ei.data["listener"]["jobKey"] = job.key
    run.record("LISTENER_JOB_CREATED", ei, jobKey=str(job.key), jobType=job.type, listenerEventType=event.upper())


def open_or_incident(run: InstanceRun, ei: ElementInstance, element: Element, event: str, index: int) -> None:
    """`open_job`; if its type or retries expression fails, an incident whose resolution tries it again."""
    try:
        open_job(run, ei, element, event, index)
    except IncidentRaised as inc:
        run.add_incident(ei, inc.error_type, inc.message)
        ei.data["incidentPhase"] = "listener"


def done(run: InstanceRun, ei: ElementInstance, job: Job) -> dict[str, Any] | None:
    """The listener job completed: {"event", "index"} of the listener it ran, None if not awaited."""
    state = ei.data.get("listener")
    if not state or state.get("jobKey") != job.key:
        return None
    del ei.data["listener"]
    run.touch("elements", ei)
    return {"event": state["event"], "index": state["index"]}


def cancel(run: InstanceRun, ei: ElementInstance) -> None:
    """The element is terminated: withdraw the listener job it waited for."""
    state = ei.data.pop("listener", None)
    job = run.jobs.get(state.get("jobKey", 0)) if state else None
    if job is not None and job.state in _OPEN:
        job.state = Job.State.CANCELED
        run.touch("jobs", job)
        run.record("JOB_CANCELED", ei, jobKey=str(job.key))
