"""Ending tokens early: terminate an element instance (children first) or a whole scope."""

from __future__ import annotations

from collections import deque

from engine.models import ElementInstance, ProcessInstance
from engine.runtime import listeners
from engine.runtime.registry import behavior_of
from engine.runtime.state import InstanceRun
from engine.runtime.tokens import ACTIVE, TERMINATED, end_instance


def terminate(run: InstanceRun, ei: ElementInstance) -> None:
    """Terminate an element instance and everything inside it, children first."""
    for child_key in sorted(run.active_children(ei.key)):
        terminate(run, run.elements[child_key])
    element = run.element(ei.element_id)
    behavior_of(ei, element).terminate(run, ei, element)
    listeners.cancel(run, ei)
    if ei.data.get("tokens"):
        del ei.data["tokens"]
    run.end_element_instance(ei, TERMINATED)
    run.record("ELEMENT_TERMINATED", ei)


def interrupt_scope(run: InstanceRun, scope: ElementInstance, keep: int | None = None) -> None:
    """Terminate every token inside a scope (active, in flight, or waiting at a join); the scope stays."""
    for child_key in sorted(run.active_children(scope.key)):
        if child_key != keep:
            terminate(run, run.elements[child_key])
    if run.inflight.get(scope.key):
        run.agenda = deque(
            entry for entry in run.agenda if not (entry[0] == "activate" and entry[1][1] == scope.key)
        )
        run.inflight[scope.key] = 0
    if scope.data.get("tokens"):
        del scope.data["tokens"]
        run.touch("elements", scope)


def terminate_instance(run: InstanceRun) -> None:
    process_ei = run.elements.get(run.instance.key)
    if process_ei is not None and process_ei.state == ACTIVE:
        terminate(run, process_ei)
    end_instance(run, ProcessInstance.State.TERMINATED)
