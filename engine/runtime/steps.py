"""The token mechanics shared by every element: activate, complete, take flows, terminate.

Work is queued on the run's agenda (FIFO) instead of recursing, so long chains cannot
overflow the stack and a scope is checked for completion only after the activations
queued before the check have happened. A queued activation is a token in flight: it
counts in `run.inflight` for its scope, so the scope cannot complete under it.

Element-specific decisions live in the behaviours (engine/runtime/behaviors); the
multi-instance body wraps any activity that has loop characteristics.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from django.conf import settings

from engine.model import Element, Flow
from engine.models import ElementInstance, ProcessInstance
from engine.runtime import budget
from engine.runtime.behaviors import behavior_for
from engine.runtime.behaviors.base import Behavior
from engine.runtime.errors import IncidentRaised
from engine.runtime.state import InstanceRun
from engine.runtime.variables import apply_inputs, apply_outputs, set_result


def open_waits(run: InstanceRun, ei: ElementInstance, element: Element) -> None:
    from engine.runtime.waits import open_waits as _open

    _open(run, ei, element)

ACTIVE = ElementInstance.State.ACTIVE
COMPLETED = ElementInstance.State.COMPLETED
TERMINATED = ElementInstance.State.TERMINATED
MULTI_INSTANCE_BODY = "MULTI_INSTANCE_BODY"


def run_agenda(run: InstanceRun) -> None:
    limit = settings.ENGINE_STEP_BUDGET
    taken = 0
    while run.agenda:
        if taken >= limit:
            # A runaway guard: yield to the other instances (or stop at an incident).
            budget.stop(run, taken)
            return
        taken += 1
        step, arg = run.agenda.popleft()
        if step == "activate":
            _activate(run, *arg)
        elif step == "complete":
            _complete(run, arg)
        elif step == "check_scope":
            _check_scope(run, arg)
        else:  # pragma: no cover - a programming error, not input
            raise ValueError(f"unknown agenda step {step}")


# -- queueing ---------------------------------------------------------------------------------------


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


# -- the steps ----------------------------------------------------------------------------------------


def is_body(ei: ElementInstance) -> bool:
    return ei.element_type == MULTI_INSTANCE_BODY


def is_inner(run: InstanceRun, ei: ElementInstance) -> bool:
    """One instance of a multi-instance activity (its flow scope is the body)."""
    scope = run.elements.get(ei.flow_scope_key) if ei.flow_scope_key is not None else None
    return scope is not None and scope.element_type == MULTI_INSTANCE_BODY and scope.element_id == ei.element_id


def behavior_of(run: InstanceRun, ei: ElementInstance, element: Element) -> Behavior:
    if ei.element_type == MULTI_INSTANCE_BODY:
        from engine.runtime.behaviors.multi_instance import MULTI_INSTANCE

        return MULTI_INSTANCE
    return behavior_for(element)


def _activate(run: InstanceRun, element: Element, scope_key: int, flow_id: str | None,
              locals_: dict[str, Any] | None, result: dict[str, Any] | None, inner: bool) -> None:
    pending = run.inflight.get(scope_key, 0)
    if pending:
        run.inflight[scope_key] = pending - 1
    scope = run.elements.get(scope_key)
    if scope is None or scope.state != ACTIVE:
        return  # the scope ended meanwhile (e.g. terminated); the token dies with it
    body = not inner and "loop" in element.props
    ei = run.new_element_instance(element, scope_key, element_type=MULTI_INSTANCE_BODY if body else None)
    run.record("ELEMENT_ACTIVATED", ei, flowScopeKey=str(scope_key), **({"flowId": flow_id} if flow_id else {}))
    behavior = behavior_of(run, ei, element)
    try:
        if locals_:
            for name, value in locals_.items():
                run.set_local_variable(ei.key, name, value)
        if not body:
            apply_inputs(run, ei, element)
        if result:
            set_result(run, ei, element, result)
        behavior.activate(run, ei, element)
        if ei.state == ACTIVE and not body:
            open_waits(run, ei, element)
    except IncidentRaised as inc:
        run.add_incident(ei, inc.error_type, inc.message)
        ei.data["incidentPhase"] = "activate"


def _complete(run: InstanceRun, key: int) -> None:
    ei = run.elements.get(key)
    if ei is None or ei.state != ACTIVE:
        return
    element = run.element(ei.element_id)
    behavior = behavior_of(run, ei, element)
    inner = is_inner(run, ei)
    flows: list[Flow] = []
    inner_outcome: Any = None
    try:
        behavior.before_complete(run, ei, element)
        if not is_body(ei):
            apply_outputs(run, ei, element)
        if inner:
            from engine.runtime.behaviors.multi_instance import MULTI_INSTANCE

            inner_outcome = MULTI_INSTANCE.inner_completing(run, run.elements[ei.flow_scope_key], ei, element)
        elif element.kind != "process":
            flows = behavior.outgoing(run, ei, element)
    except IncidentRaised as inc:
        # The element cannot leave (bad mapping, no flow to take): it stays active with an incident.
        run.add_incident(ei, inc.error_type, inc.message)
        ei.data["incidentPhase"] = "complete"
        return
    run.end_element_instance(ei, COMPLETED)
    run.record("ELEMENT_COMPLETED", ei)
    behavior.after_complete(run, ei, element)
    if inner:
        from engine.runtime.behaviors.multi_instance import MULTI_INSTANCE

        MULTI_INSTANCE.inner_completed(run, run.elements[ei.flow_scope_key], ei, element, inner_outcome)
    elif element.kind != "process":
        take_flows(run, ei, flows)


def retry(run: InstanceRun, ei: ElementInstance) -> None:
    """After an incident is resolved: run again the step that raised it (activation or completion)."""
    phase = ei.data.pop("incidentPhase", None)
    run.touch("elements", ei)
    if phase == "continue":
        budget.unpark(run, ei)
        return
    if phase == "complete":
        complete(run, ei)
        return
    if phase == "activate":
        element = run.element(ei.element_id)
        try:
            if not is_body(ei):
                apply_inputs(run, ei, element)
            behavior_of(run, ei, element).activate(run, ei, element)
            if ei.state == ACTIVE and not is_body(ei):
                open_waits(run, ei, element)
        except IncidentRaised as inc:
            run.add_incident(ei, inc.error_type, inc.message)
            ei.data["incidentPhase"] = "activate"


def take_flows(run: InstanceRun, ei: ElementInstance, flows: list[Flow]) -> None:
    scope_key = ei.flow_scope_key
    assert scope_key is not None
    for flow in flows:
        run.record("SEQUENCE_FLOW_TAKEN", flowId=flow.id, source=flow.source, target=flow.target)
        target = run.graph.elements[flow.target]
        behavior_for(target).arrive(run, target, scope_key, flow)
    check_scope(run, scope_key)


def _check_scope(run: InstanceRun, scope_key: int) -> None:
    scope = run.elements.get(scope_key)
    if scope is None or scope.state != ACTIVE:
        return
    if scope.data.get("tokens"):
        from engine.runtime.behaviors.inclusive_gateway import fire_ready_joins

        fire_ready_joins(run, scope)
    if run.active_children(scope_key) or run.inflight.get(scope_key):
        return
    if run.instance.has_incident and budget.holds(run, scope_key):
        return  # tokens of the scope are parked by a runaway incident
    if scope.data.get("tokens"):
        return  # tokens waiting at a join still belong to the scope
    if is_body(scope):
        return  # a multi-instance body completes by counting its instances
    complete(run, scope)


def terminate(run: InstanceRun, ei: ElementInstance) -> None:
    """Terminate an element instance and everything inside it, children first."""
    for child_key in sorted(run.active_children(ei.key)):
        terminate(run, run.elements[child_key])
    element = run.element(ei.element_id)
    behavior_of(run, ei, element).terminate(run, ei, element)
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


def end_instance(run: InstanceRun, state: str) -> None:
    run.instance.state = state
    run.instance.end_date = run.now
    run.instance_dirty = True
    run.record("PROCESS_INSTANCE_" + ("COMPLETED" if state == ProcessInstance.State.COMPLETED else "TERMINATED"))


def terminate_instance(run: InstanceRun) -> None:
    process_ei = run.elements.get(run.instance.key)
    if process_ei is not None and process_ei.state == ACTIVE:
        terminate(run, process_ei)
    end_instance(run, ProcessInstance.State.TERMINATED)
