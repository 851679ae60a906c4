"""Queueing token moves on a run's agenda, and what a token's position means.

The lowest layer of the runtime's token mechanics: behaviours, catching and wait states
queue activations and completions here; `engine/runtime/steps.py` executes them. Nothing
here needs to know an element's behaviour, so every behaviour may import it.
"""

from __future__ import annotations

from typing import Any

from engine.graph import Element
from engine.models import Command, ElementInstance, ProcessInstance
from engine.runtime.chains import chain_runs
from engine.runtime.state import InstanceRun

ACTIVE = ElementInstance.State.ACTIVE
COMPLETED = ElementInstance.State.COMPLETED
TERMINATED = ElementInstance.State.TERMINATED
MULTI_INSTANCE_BODY = "MULTI_INSTANCE_BODY"
# `ei.data` key of a call activity whose termination waits for its child instance to end (termination.py).
AWAIT_CHILD = "awaitChild"


def activate(run: InstanceRun, element: Element, scope_key: int, flow_id: str | None = None,
             locals_: dict[str, Any] | None = None, result: dict[str, Any] | None = None,
             inner: bool = False) -> None:
    """Queue the activation of an element in a flow scope.

    `locals_` become local variables before input mappings (multi-instance loop variables);
    `result` is what a triggered event brings (error or message variables), applied like a
    task's result. `inner` marks one instance of a multi-instance activity.
    """
    run.inflight[scope_key] = run.inflight.get(scope_key, 0) + 1
    run.agenda.append(("activate", (element, scope_key, flow_id, locals_, result, inner)))


def complete(run: InstanceRun, ei: ElementInstance) -> None:
    """Queue the completion of an active element instance (its behaviour decided it is done)."""
    run.agenda.append(("complete", ei.key))


def check_scope(run: InstanceRun, scope_key: int) -> None:
    run.agenda.append(("check_scope", scope_key))


def is_body(ei: ElementInstance) -> bool:
    return ei.element_type == MULTI_INSTANCE_BODY


def is_inner(run: InstanceRun, ei: ElementInstance) -> bool:
    """One instance of a multi-instance activity (its flow scope is the body)."""
    scope = run.elements.get(ei.flow_scope_key) if ei.flow_scope_key is not None else None
    return scope is not None and scope.element_type == MULTI_INSTANCE_BODY and scope.element_id == ei.element_id


def end_instance(run: InstanceRun, state: str) -> None:
    run.instance.state = state
    run.instance.end_date = run.now
    run.instance_dirty = True
    run.record("PROCESS_INSTANCE_" + ("COMPLETED" if state == ProcessInstance.State.COMPLETED else "TERMINATED"))
    if state == ProcessInstance.State.TERMINATED:
        tell_parent_terminated(run)
    chain_runs(run, state)  # event triggers of flows that start when this run ends


def tell_parent_terminated(run: InstanceRun) -> None:
    """A child instance (of a call activity) is terminated: the parent's call activity may wait for that (its
    own termination ends once the child's did, engine/runtime/termination.py), so it is told by command."""
    parent = run.instance.parent_instance_key
    if parent is not None:
        run.send(parent, Command.Kind.CHILD_TERMINATED, {
            "elementInstanceKey": str(run.instance.parent_element_instance_key),
            "childInstanceKey": str(run.instance.key),
        })
