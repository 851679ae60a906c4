"""Executing the agenda: the token mechanics shared by every element.

Work is queued on the run's agenda (FIFO, `engine/runtime/tokens.py`) instead of
recursing, so long chains cannot overflow the stack and a scope is checked for
completion only after the activations queued before the check have happened. A queued
activation is a token in flight: it counts in `run.inflight` for its scope, so the scope
cannot complete under it.

This is the top of the runtime's token layers: it imports the behaviours (which register
themselves in `registry.py`), element-specific decisions live in them, and the
multi-instance body wraps any activity that has loop characteristics.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from engine.graph import Element, Flow
from engine.models import ElementInstance
from engine.runtime import (
    behaviors,  # noqa: F401  (registers every element kind's behaviour)
    budget,
    compensation,
    listeners,
)
from engine.runtime.behaviors.inclusive_gateway import fire_ready_joins
from engine.runtime.behaviors.multi_instance import MULTI_INSTANCE
from engine.runtime.behaviors.user_task import task_listeners_done
from engine.runtime.errors import IncidentRaised
from engine.runtime.expr import evaluate_condition
from engine.runtime.registry import behavior_for, behavior_of
from engine.runtime.state import InstanceRun
from engine.runtime.termination import interrupt_scope
from engine.runtime.tokens import (
    ACTIVE,
    COMPLETED,
    MULTI_INSTANCE_BODY,
    activate,
    check_scope,
    complete,
    is_body,
    is_inner,
)
from engine.runtime.variables import apply_inputs, apply_outputs, set_result
from engine.runtime.waits import open_waits


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


# -- the steps ----------------------------------------------------------------------------------------


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
    try:
        if locals_:
            for name, value in locals_.items():
                run.set_local_variable(ei.key, name, value)
        if not body:
            apply_inputs(run, ei, element)
        if result:
            set_result(run, ei, element, result)
    except IncidentRaised as inc:
        run.add_incident(ei, inc.error_type, inc.message)
        ei.data["incidentPhase"] = "activate"
        return
    if body:
        begin(run, ei, element)  # a multi-instance body: its inner instances run the listeners
    else:
        enter(run, ei, element)


def enter(run: InstanceRun, ei: ElementInstance, element: Element) -> None:
    """The element's start listeners first (if it has any), else its own work at once."""
    if listeners.of(element, "start"):
        listeners.open_or_incident(run, ei, element, "start", 0)
    else:
        begin(run, ei, element)


def begin(run: InstanceRun, ei: ElementInstance, element: Element) -> None:
    """The element's own work, once its inputs are in and its start listeners are done."""
    try:
        if element.kind == "process":
            open_waits(run, ei, element)  # event subprocess starts of the process
            start_id = ei.data.pop("startElementId", None)
            if start_id:  # started by its message, timer or signal start event
                activate(run, run.graph.elements[start_id], ei.key)
            else:
                behavior_of(ei, element).activate(run, ei, element)
            return
        behavior_of(ei, element).activate(run, ei, element)
        if ei.state == ACTIVE and not is_body(ei):
            open_waits(run, ei, element)
    except IncidentRaised as inc:
        run.add_incident(ei, inc.error_type, inc.message)
        ei.data["incidentPhase"] = "begin"  # the listeners ran: a retry starts the work again, not them


def listener_done(run: InstanceRun, ei: ElementInstance, ran: dict[str, Any]) -> None:
    """A listener job completed: the next listener of the event, else the element goes on."""
    element = run.element(ei.element_id)
    event, index = ran["event"], ran["index"] + 1
    if index < len(listeners.of(element, event)):
        listeners.open_or_incident(run, ei, element, event, index)
    elif event == "start":
        begin(run, ei, element)
    elif event != "end":
        task_listeners_done(run, ei, event)
    else:
        ei.data["endListenersDone"] = True
        complete(run, ei)


def _complete(run: InstanceRun, key: int) -> None:
    ei = run.elements.get(key)
    if ei is None or ei.state != ACTIVE:
        return
    element = run.element(ei.element_id)
    behavior = behavior_of(ei, element)
    if listeners.waiting(ei):
        return  # a listener job is still running; its completion continues the element
    inner = is_inner(run, ei)
    flows: list[Flow] = []
    inner_outcome: Any = None
    try:
        if not ei.data.get("endListenersDone"):
            behavior.before_complete(run, ei, element)
            if not is_body(ei):
                apply_outputs(run, ei, element)
            if not is_body(ei) and listeners.of(element, "end"):
                listeners.open_or_incident(run, ei, element, "end", 0)  # completes when the last one did
                return
        if inner:
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
    compensation.remember(run, ei, element)
    behavior.after_complete(run, ei, element)
    if inner:
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
    if phase == "adHocCondition":
        check_scope(run, ei.key)
        return
    if phase == "listener":
        ran = ei.data["listener"]
        listeners.open_or_incident(run, ei, run.element(ei.element_id), ran["event"], ran["index"])
        return
    if phase in ("activate", "begin"):
        element = run.element(ei.element_id)
        try:
            if not is_body(ei):
                apply_inputs(run, ei, element)
        except IncidentRaised as inc:
            run.add_incident(ei, inc.error_type, inc.message)
            ei.data["incidentPhase"] = phase
            return
        if phase == "activate" and not is_body(ei):
            enter(run, ei, element)
        else:
            begin(run, ei, element)


def take_flows(run: InstanceRun, ei: ElementInstance, flows: list[Flow]) -> None:
    scope_key = ei.flow_scope_key
    assert scope_key is not None
    for flow in flows:
        run.record("SEQUENCE_FLOW_TAKEN", flowId=flow.id, source=flow.source, target=flow.target)
        target = run.graph.elements[flow.target]
        behavior_for(target).arrive(run, target, scope_key, flow)
    check_scope(run, scope_key)


def _ad_hoc_may_complete(run: InstanceRun, scope: ElementInstance) -> bool:
    """An inner element of an ad-hoc subprocess completed. Without a completionCondition it completes when nothing
    runs inside (as any scope). With one: only once it holds — then, with cancelRemainingInstances (default),
    what still runs is terminated, else the subprocess waits for it (Camunda 8.7)."""
    element = run.element(scope.element_id)
    condition = element.props.get("completionCondition")
    if not condition or scope.data.get("adHocConditionMet"):
        return True
    try:
        met = evaluate_condition(run, scope.key, condition)
    except IncidentRaised as inc:
        run.add_incident(scope, inc.error_type, inc.message)
        scope.data["incidentPhase"] = "adHocCondition"  # resolving it evaluates the condition again
        return False
    if not met:
        return False  # even with nothing left running: it waits (Camunda activates more through its API)
    scope.data["adHocConditionMet"] = True
    run.touch("elements", scope)
    if element.props.get("cancelRemaining", True):
        interrupt_scope(run, scope)
    return True


def _check_scope(run: InstanceRun, scope_key: int) -> None:
    scope = run.elements.get(scope_key)
    if scope is None or scope.state != ACTIVE:
        return
    if scope.data.get("tokens"):
        fire_ready_joins(run, scope)
    if scope.element_type == "AD_HOC_SUB_PROCESS" and not _ad_hoc_may_complete(run, scope):
        return
    if run.active_children(scope_key) or run.inflight.get(scope_key):
        return
    if run.instance.has_incident and budget.holds(run, scope_key):
        return  # tokens of the scope are parked by a runaway incident
    if scope.data.get("tokens"):
        return  # tokens waiting at a join still belong to the scope
    if is_body(scope):
        return  # a multi-instance body completes by counting its instances
    complete(run, scope)
