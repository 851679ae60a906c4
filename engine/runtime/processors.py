"""Command kind → processor. A processor applies one command to one InstanceRun."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.models import Command, ElementInstance, Job, UserTask
from engine.runtime import budget, listeners, steps, tokens, waits
from engine.runtime.behaviors import user_task
from engine.runtime.behaviors.call_activity import CallActivityBehavior
from engine.runtime.catching import throw_error, throw_escalation
from engine.runtime.errors import CommandRejected, IncidentRaised
from engine.runtime.migration import migrate_instance
from engine.runtime.modification import modify_instance
from engine.runtime.registry import behavior_for
from engine.runtime.state import InstanceRun
from engine.runtime.termination import release, terminate_instance, terminating
from engine.runtime.tokens import AWAIT_CHILD, tell_parent_terminated
from engine.runtime.variables import set_result

ACTIVE = ElementInstance.State.ACTIVE
# The incident a job out of retries raises, by what the job is for.
_NO_RETRIES = {Job.Kind.EXECUTION_LISTENER: "EXECUTION_LISTENER_NO_RETRIES",
               Job.Kind.TASK_LISTENER: "TASK_LISTENER_NO_RETRIES"}


def _variables(payload: dict[str, Any]) -> dict[str, Any]:
    variables = payload.get("variables") or {}
    if not isinstance(variables, dict):
        raise CommandRejected("variables must be a JSON object")
    return variables


def create_instance(run: InstanceRun, payload: dict[str, Any]) -> None:
    if run.instance.key in run.elements:
        raise CommandRejected("instance already started")
    start_id = payload.get("startElementId")
    start = run.graph.elements.get(start_id) if start_id else None
    if start_id and (start is None or start.kind != "startEvent" or start.parent is not None):
        raise CommandRejected(f"'{start_id}' is not a start event of process '{run.graph.process_id}'")
    if start is None and not run.graph.start_events(None):
        raise CommandRejected(f"process '{run.graph.process_id}' has no none start event to start it from")
    process_ei = run.new_element_instance(run.process_element, None, key=run.instance.key)
    if payload.get("callDepth"):
        process_ei.data["callDepth"] = int(payload["callDepth"])  # how deep in call activities (limits.py)
    run.record("ELEMENT_ACTIVATED", process_ei)
    for name, value in _variables(payload).items():
        run.set_local_variable(process_ei.key, name, value)
    if start is not None:
        process_ei.data["startElementId"] = start.id  # started by its message, timer or signal start event
    steps.enter(run, process_ei, run.process_element)


def _active_element(run: InstanceRun, key: int, what: str) -> ElementInstance:
    ei = run.elements.get(key)
    if ei is None or ei.state != ACTIVE:
        raise CommandRejected(f"{what} belongs to an element that is no longer active")
    return ei


def complete_job(run: InstanceRun, payload: dict[str, Any]) -> None:
    variables = _variables(payload)
    job = run.jobs.get(int(payload["jobKey"]))
    if job is None:
        raise CommandRejected(f"job {payload['jobKey']} not found")
    ei = _active_element(run, job.element_instance_key, f"job {job.key}")
    if job.state != Job.State.COMPLETED:  # the API's completion marked the row already: no second write
        job.state = Job.State.COMPLETED
        run.touch("jobs", job)
    run.record("JOB_COMPLETED", ei, jobKey=str(job.key))
    if job.kind == Job.Kind.TASK_LISTENER:
        # Its variables are not the task's (Camunda 8 takes none from a task listener); its result may deny
        # the completion or correct the task.
        ran = listeners.done(run, ei, job)
        if ran is None:
            raise CommandRejected(f"job {job.key} is not the listener its user task waits for")
        if user_task.listener_result(run, ei, ran["event"], payload.get("result") or {}):
            steps.listener_done(run, ei, ran)
        return
    if job.kind == Job.Kind.EXECUTION_LISTENER:
        ran = listeners.done(run, ei, job)
        if ran is None:
            raise CommandRejected(f"job {job.key} is not the listener its element waits for")
        if ran["event"] == "start":
            set_result(run, ei, run.element(ei.element_id), variables)  # like the element's own result
        else:
            run.propagate_variables(ei.key, variables)  # its output mappings ran already
        steps.listener_done(run, ei, ran)
        return
    set_result(run, ei, run.element(ei.element_id), variables)
    tokens.complete(run, ei)


def _open_user_task(run: InstanceRun, payload: dict[str, Any]) -> tuple[UserTask, ElementInstance]:
    task = run.user_tasks.get(int(payload["userTaskKey"]))
    if task is None or task.state not in user_task.OPEN_STATES or task.state == UserTask.State.CREATING:
        raise CommandRejected(f"user task {payload['userTaskKey']} is not open")
    return task, _active_element(run, task.element_instance_key, f"user task {task.key}")


def complete_user_task(run: InstanceRun, payload: dict[str, Any]) -> None:
    variables = _variables(payload)
    task, ei = _open_user_task(run, payload)
    if listeners.waiting(ei):
        raise CommandRejected(f"user task {task.key} waits for its listeners")
    user_task.request_completion(run, ei, task, variables, str(payload.get("completedBy") or ""))


def assign_user_task(run: InstanceRun, payload: dict[str, Any]) -> None:
    """Assign (or, with an empty assignee, unassign) an open user task, through its assigning listeners if any."""
    task, ei = _open_user_task(run, payload)
    if listeners.waiting(ei):
        raise CommandRejected(f"user task {task.key} waits for its listeners")
    assignee = str(payload.get("assignee") or "")[:255]
    action = str(payload.get("action") or ("assign" if assignee else "unassign"))[:64]
    user_task.request_assignment(run, ei, task, assignee, action)


def update_user_task(run: InstanceRun, payload: dict[str, Any]) -> None:
    """Change an open user task's dates, candidates or priority (checked by the action), through its updating
    listeners if any."""
    task, ei = _open_user_task(run, payload)
    if listeners.waiting(ei):
        raise CommandRejected(f"user task {task.key} waits for its listeners")
    changeset = payload.get("changeset") or {}
    if not isinstance(changeset, dict):
        raise CommandRejected("changeset must be a JSON object")
    user_task.request_update(run, ei, task, changeset, str(payload.get("action") or "update")[:64])


def child_completed(run: InstanceRun, payload: dict[str, Any]) -> None:
    variables = _variables(payload)
    ei = _active_element(run, int(payload["elementInstanceKey"]), "the completed child instance")
    ei.data["childEnded"] = True
    run.touch("elements", ei)
    run.record("CHILD_INSTANCE_COMPLETED", ei, childInstanceKey=str(payload.get("childInstanceKey")))
    if terminating(ei):
        # It completed before the cancel reached it: the call activity, which waited for its end, is terminated
        # (its variables do not come back), as in Camunda.
        ei.data.pop(AWAIT_CHILD, None)
        release(run, ei)
        return
    behavior = behavior_for(run.element(ei.element_id))
    assert isinstance(behavior, CallActivityBehavior)
    behavior.child_completed(run, ei, run.element(ei.element_id), variables)


def child_terminated(run: InstanceRun, payload: dict[str, Any]) -> None:
    """A child instance ended terminated (or was already over when its call activity's cancel reached it): the
    call activity no longer waits for it. Nothing else changes here: a child ends terminated only when its
    call activity cancelled it, or when an operator cancelled or modified the child itself (then the call
    activity stays, as before)."""
    ei = run.elements.get(int(payload["elementInstanceKey"]))
    if ei is None or ei.state != ACTIVE or ei.data.get("childEnded"):
        return  # the call activity is gone already (or heard of this child's end): nothing waits for this
    ei.data["childEnded"] = True
    ei.data.pop(AWAIT_CHILD, None)
    run.touch("elements", ei)
    run.record("CHILD_INSTANCE_TERMINATED", ei, childInstanceKey=str(payload.get("childInstanceKey")))
    release(run, ei)


def _calling_element(run: InstanceRun, payload: dict[str, Any], what: str) -> ElementInstance:
    ei = _active_element(run, int(payload["elementInstanceKey"]), what)
    if terminating(ei):
        raise CommandRejected(f"the call activity of {what} is being terminated")
    return ei


def child_error(run: InstanceRun, payload: dict[str, Any]) -> None:
    """An error a child instance did not catch: thrown again from the call activity in this instance."""
    variables = _variables(payload)
    ei = _calling_element(run, payload, "the failing child instance")
    try:
        throw_error(run, ei, str(payload.get("errorCode") or ""), str(payload.get("errorMessage") or ""),
                    variables)
    except IncidentRaised as inc:
        run.add_incident(ei, inc.error_type, inc.message)


def child_escalation(run: InstanceRun, payload: dict[str, Any]) -> None:
    """An escalation a child instance did not catch: thrown again from the call activity (never an incident)."""
    ei = _calling_element(run, payload, "the escalating child instance")
    throw_escalation(run, ei, str(payload.get("escalationCode") or ""))


def job_failed(run: InstanceRun, payload: dict[str, Any]) -> None:
    """A job ran out of retries: an incident on its element; resolving it makes the job activatable again."""
    job = run.jobs.get(int(payload["jobKey"]))
    if job is None:
        raise CommandRejected(f"job {payload['jobKey']} not found")
    ei = _active_element(run, job.element_instance_key, f"job {job.key}")
    message = str(payload.get("errorMessage") or "") or "No more retries left."
    code = run.element(ei.element_id).props.get("errorOnFailure")
    if code:
        # A JSON flow node with `on_failure: continue`: its failure is caught and the run goes on.
        try:
            throw_error(run, ei, code, message, {})
            return
        except IncidentRaised:
            pass
    run.add_incident(ei, _NO_RETRIES.get(job.kind, "JOB_NO_RETRIES"), message, job_key=job.key)


def job_error(run: InstanceRun, payload: dict[str, Any]) -> None:
    """A worker threw a BPMN error: caught by the nearest matching catch event, else an incident."""
    job = run.jobs.get(int(payload["jobKey"]))
    if job is None:
        raise CommandRejected(f"job {payload['jobKey']} not found")
    ei = _active_element(run, job.element_instance_key, f"job {job.key}")
    if terminating(ei):
        raise CommandRejected(f"job {job.key}'s element is being terminated; a canceling listener throws no error")
    job.state = Job.State.ERROR_THROWN
    run.touch("jobs", job)
    try:
        throw_error(run, ei, str(payload.get("errorCode") or ""), str(payload.get("errorMessage") or ""),
                    _variables(payload))
    except IncidentRaised as inc:
        run.add_incident(ei, inc.error_type, inc.message, job_key=job.key)


def resolve_incident(run: InstanceRun, payload: dict[str, Any]) -> None:
    """Resolve an incident and continue from where the element stopped."""
    incident = run.incidents.get(int(payload["incidentKey"]))
    if incident is None or incident.state != incident.State.ACTIVE:
        raise CommandRejected(f"incident {payload['incidentKey']} is not active")
    incident.state, incident.resolved_at = incident.State.RESOLVED, run.now
    run.touch("incidents", incident)
    ei = run.elements.get(incident.element_instance_key)
    run.record("INCIDENT_RESOLVED", ei, incidentKey=str(incident.key))
    if not any(i.state == i.State.ACTIVE for i in run.incidents.values()):
        run.instance.has_incident = False
        run.instance_dirty = True
    if ei is None or ei.state != ACTIVE:
        return
    ei.incident_key = None
    run.touch("elements", ei)
    job = run.jobs.get(incident.job_key) if incident.job_key else None
    if job is not None:
        # The job runs again: a worker can activate it now.
        if job.state in (Job.State.FAILED, Job.State.ERROR_THROWN):
            job.state = Job.State.ACTIVATABLE
            run.touch("jobs", job)
        return
    steps.retry(run, ei)


def set_variables(run: InstanceRun, payload: dict[str, Any]) -> None:
    scope_key = int(payload.get("scopeKey") or run.instance.key)
    scope = run.elements.get(scope_key)
    if scope is None or scope.state != ACTIVE:
        raise CommandRejected(f"scope {scope_key} is not an active element instance of this process instance")
    variables = _variables(payload)
    if payload.get("local"):
        for name, value in variables.items():
            run.set_local_variable(scope_key, name, value)
    else:
        run.propagate_variables(scope_key, variables)


def cancel_instance(run: InstanceRun, payload: dict[str, Any]) -> None:
    if run.instance.state != run.instance.State.ACTIVE:
        if payload.get("byParent") and run.instance.state == run.instance.State.TERMINATED:
            tell_parent_terminated(run)  # ended before the cancel came: the call activity must not wait for it
            return
        raise CommandRejected("instance is not active")
    process_ei = run.elements.get(run.instance.key)
    if process_ei is not None and terminating(process_ei):
        # It ends later all the same (and then tells a parent call activity that waits for it).
        raise CommandRejected("instance is being canceled already (it waits for canceling task listeners "
                              "or child instances)")
    terminate_instance(run)


PROCESSORS: dict[str, Callable[[InstanceRun, dict[str, Any]], None]] = {
    Command.Kind.CREATE_INSTANCE: create_instance,
    Command.Kind.COMPLETE_JOB: complete_job,
    Command.Kind.COMPLETE_USER_TASK: complete_user_task,
    Command.Kind.ASSIGN_USER_TASK: assign_user_task,
    Command.Kind.UPDATE_USER_TASK: update_user_task,
    Command.Kind.CHILD_COMPLETED: child_completed,
    Command.Kind.CHILD_ERROR: child_error,
    Command.Kind.CHILD_ESCALATION: child_escalation,
    Command.Kind.CHILD_TERMINATED: child_terminated,
    Command.Kind.CANCEL_INSTANCE: cancel_instance,
    Command.Kind.JOB_FAILED: job_failed,
    Command.Kind.THROW_ERROR: job_error,
    Command.Kind.RESOLVE_INCIDENT: resolve_incident,
    Command.Kind.SET_VARIABLES: set_variables,
    Command.Kind.TRIGGER_TIMER: waits.trigger_timer,
    Command.Kind.CORRELATE_MESSAGE: waits.correlate_message,
    Command.Kind.TRIGGER_SIGNAL: waits.trigger_signal,
    Command.Kind.CONTINUE: budget.continue_command,
    Command.Kind.MODIFY_INSTANCE: modify_instance,
    Command.Kind.MIGRATE_INSTANCE: migrate_instance,
}


def apply(run: InstanceRun, command: Command) -> None:
    """Apply one command, then run the agenda until the instance waits or ends."""
    processor = PROCESSORS.get(command.kind)
    if processor is None:
        raise CommandRejected(f"unknown command kind {command.kind}")
    run.chain_steps = 0
    processor(run, command.payload)
    steps.run_agenda(run)
