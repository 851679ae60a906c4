"""Command kind → processor. A processor applies one command to one InstanceRun."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.models import Command, ElementInstance, Job
from engine.runtime import steps
from engine.runtime.errors import CommandRejected
from engine.runtime.state import InstanceRun

ACTIVE = ElementInstance.State.ACTIVE


def create_instance(run: InstanceRun, payload: dict[str, Any]) -> None:
    if run.instance.key in run.elements:
        raise CommandRejected("instance already started")
    process_ei = run.new_element_instance(run.process_element, None, key=run.instance.key)
    run.record("ELEMENT_ACTIVATED", process_ei)
    for name, value in (payload.get("variables") or {}).items():
        run.set_local_variable(process_ei.key, name, value)
    steps.behavior_for(run.process_element).activate(run, process_ei, run.process_element)


def complete_job(run: InstanceRun, payload: dict[str, Any]) -> None:
    job = run.jobs.get(int(payload["jobKey"]))
    if job is None:
        raise CommandRejected(f"job {payload['jobKey']} not found")
    ei = run.elements.get(job.element_instance_key)
    if ei is None or ei.state != ACTIVE:
        raise CommandRejected(f"job {job.key} belongs to an element that is no longer active")
    job.state = Job.State.COMPLETED
    run.touch("jobs", job)
    run.record("JOB_COMPLETED", ei, jobKey=str(job.key))
    variables = payload.get("variables") or {}
    if variables:
        run.propagate_variables(ei.key, variables)
    steps.complete(run, ei)


def cancel_instance(run: InstanceRun, payload: dict[str, Any]) -> None:
    if run.instance.state != run.instance.State.ACTIVE:
        raise CommandRejected("instance is not active")
    steps.terminate_instance(run)


PROCESSORS: dict[str, Callable[[InstanceRun, dict[str, Any]], None]] = {
    "CREATE_INSTANCE": create_instance,
    "COMPLETE_JOB": complete_job,
    "CANCEL_INSTANCE": cancel_instance,
}


def apply(run: InstanceRun, command: Command) -> None:
    """Apply one command, then run the agenda until the instance waits or ends."""
    processor = PROCESSORS.get(command.kind)
    if processor is None:
        raise CommandRejected(f"unknown command kind {command.kind}")
    processor(run, command.payload)
    steps.run_agenda(run)
