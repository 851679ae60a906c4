"""The token mechanics shared by every element: activate, complete, take flows, terminate.

Work is queued on the run's agenda (FIFO) instead of recursing, so long chains cannot
overflow the stack and a scope is checked for completion only after the activations
queued before the check have happened.
"""

from __future__ import annotations

from engine.model import Element, Flow
from engine.models import ElementInstance, ProcessInstance
from engine.runtime.behaviors import behavior_for
from engine.runtime.errors import IncidentRaised
from engine.runtime.state import InstanceRun

ACTIVE = ElementInstance.State.ACTIVE
COMPLETED = ElementInstance.State.COMPLETED
TERMINATED = ElementInstance.State.TERMINATED


def run_agenda(run: InstanceRun) -> None:
    while run.agenda:
        step, arg = run.agenda.popleft()
        if step == "activate":
            element, scope_key, flow_id = arg
            _activate(run, element, scope_key, flow_id)
        elif step == "complete":
            _complete(run, arg)
        elif step == "check_scope":
            _check_scope(run, arg)
        else:  # pragma: no cover - a programming error, not input
            raise ValueError(f"unknown agenda step {step}")


def activate(run: InstanceRun, element: Element, scope_key: int, flow_id: str | None = None) -> None:
    run.agenda.append(("activate", (element, scope_key, flow_id)))


def complete(run: InstanceRun, ei: ElementInstance) -> None:
    """Queue the completion of an active element instance (its behaviour decided it is done)."""
    run.agenda.append(("complete", ei.key))


def _activate(run: InstanceRun, element: Element, scope_key: int, flow_id: str | None) -> None:
    scope = run.elements.get(scope_key)
    if scope is None or scope.state != ACTIVE:
        return  # the scope ended meanwhile (e.g. terminated); the token dies with it
    ei = run.new_element_instance(element, scope_key)
    run.record("ELEMENT_ACTIVATED", ei, flowScopeKey=str(scope_key), **({"flowId": flow_id} if flow_id else {}))
    try:
        behavior_for(element).activate(run, ei, element)
    except IncidentRaised as inc:
        run.add_incident(ei, inc.error_type, inc.message)


def _complete(run: InstanceRun, key: int) -> None:
    ei = run.elements.get(key)
    if ei is None or ei.state != ACTIVE:
        return
    element = run.element(ei.element_id)
    behavior = behavior_for(element)
    try:
        behavior.before_complete(run, ei, element)
    except IncidentRaised as inc:
        run.add_incident(ei, inc.error_type, inc.message)
        return
    run.end_element_instance(ei, COMPLETED)
    run.record("ELEMENT_COMPLETED", ei)
    if element.kind == "process":
        _end_instance(run, ProcessInstance.State.COMPLETED)
        return
    try:
        flows = behavior.outgoing(run, ei, element)
    except IncidentRaised as inc:
        # The element is done but no flow can be chosen: Camunda raises the incident on it.
        run.add_incident(ei, inc.error_type, inc.message)
        return
    take_flows(run, ei, flows)


def take_flows(run: InstanceRun, ei: ElementInstance, flows: list[Flow]) -> None:
    scope_key = ei.flow_scope_key
    assert scope_key is not None
    for flow in flows:
        run.record("SEQUENCE_FLOW_TAKEN", flowId=flow.id, source=flow.source, target=flow.target)
        target = run.graph.elements[flow.target]
        behavior_for(target).arrive(run, target, scope_key, flow)
    run.agenda.append(("check_scope", scope_key))


def _check_scope(run: InstanceRun, scope_key: int) -> None:
    scope = run.elements.get(scope_key)
    if scope is None or scope.state != ACTIVE or run.active_children(scope_key):
        return
    if scope.data.get("tokens"):
        return  # tokens waiting at a join still belong to the scope
    complete(run, scope)


def terminate(run: InstanceRun, ei: ElementInstance) -> None:
    """Terminate an element instance and everything inside it, children first."""
    for child_key in sorted(run.active_children(ei.key)):
        terminate(run, run.elements[child_key])
    element = run.element(ei.element_id)
    behavior_for(element).terminate(run, ei, element)
    run.end_element_instance(ei, TERMINATED)
    run.record("ELEMENT_TERMINATED", ei)


def _end_instance(run: InstanceRun, state: str) -> None:
    run.instance.state = state
    run.instance.end_date = run.now
    run.instance_dirty = True
    run.record("PROCESS_INSTANCE_" + ("COMPLETED" if state == ProcessInstance.State.COMPLETED else "TERMINATED"))


def terminate_instance(run: InstanceRun) -> None:
    process_ei = run.elements.get(run.instance.key)
    if process_ei is not None and process_ei.state == ACTIVE:
        terminate(run, process_ei)
    _end_instance(run, ProcessInstance.State.TERMINATED)
