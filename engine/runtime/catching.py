"""Throwing and catching BPMN errors and escalations (and triggering event subprocesses).

An error is caught by the first matching catch event going outwards from the element
that throws it: at each level, the event subprocesses inside the scope and the boundary
events attached to it; an exact errorCode match wins over a catch-all (no errorCode) at
the same level. Not caught in the instance: a child instance (call activity) hands it
to its parent by a command; a root instance gets an UNHANDLED_ERROR_EVENT incident on
the thrower. `throw_error` is what an error end event calls today and what a job's
THROW_ERROR command calls (wait-states issue).

Escalations are caught the same way (boundary events of subprocesses and call activities,
escalation event subprocess starts, exact code before catch-all) but are not critical
(Camunda 8): the thrower goes on unless an interrupting catch ended it, and an escalation
nobody catches raises no incident. A child instance hands an uncaught one to its parent.
"""

from __future__ import annotations

from typing import Any

from engine.graph import CONTAINER_KINDS, Element
from engine.models import Command, ElementInstance
from engine.runtime import tokens
from engine.runtime.errors import IncidentRaised
from engine.runtime.state import InstanceRun
from engine.runtime.termination import accepts, interrupt_scope, terminate, wait_then

UNHANDLED_ERROR_EVENT = "UNHANDLED_ERROR_EVENT"


def _catch_events(run: InstanceRun, ei: ElementInstance) -> list[tuple[Element, ElementInstance]]:
    """(catch event, where it applies) pairs at the level of one element instance."""
    element = run.element(ei.element_id)
    found: list[tuple[Element, ElementInstance]] = []
    if element.kind in CONTAINER_KINDS and not tokens.is_body(ei):
        scope = None if element.kind == "process" else element.id
        active_esps = {run.elements[k].element_id for k in run.active_children(ei.key)}
        for esp in run.graph.event_subprocesses(scope):
            if esp.id in active_esps:
                continue
            start = run.graph.event_starts(esp.id)[0]
            found.append((start, ei))
    if element.kind != "process" and not tokens.is_inner(run, ei):
        found += [(b, ei) for b in run.graph.boundary_events(element.id)]
    return found


def find_error_catch(run: InstanceRun, thrower: ElementInstance,
                     code: str) -> tuple[Element, ElementInstance] | None:
    return _find_catch(run, thrower, "error", "errorCode", code)


def _find_catch(run: InstanceRun, thrower: ElementInstance, kind: str, code_field: str,
                code: str) -> tuple[Element, ElementInstance] | None:
    ei: ElementInstance | None = thrower
    while ei is not None:
        caught = [(e, at) for e, at in _catch_events(run, ei) if (e.props.get("event") or {}).get("type") == kind]
        exact = [(e, at) for e, at in caught if e.props["event"].get(code_field) == code]
        catch_all = [(e, at) for e, at in caught if not e.props["event"].get(code_field)]
        if exact or catch_all:
            return (exact or catch_all)[0]
        ei = run.elements.get(ei.flow_scope_key) if ei.flow_scope_key is not None else None
    return None


def throw_error(run: InstanceRun, thrower: ElementInstance, code: str, message: str = "",
                variables: dict[str, Any] | None = None) -> None:
    """Throw a BPMN error from an active element instance; raise IncidentRaised if nothing catches it."""
    run.record("ERROR_THROWN", thrower, errorCode=code, errorMessage=message)
    catch = find_error_catch(run, thrower, code)
    if catch is not None:
        event, at = catch
        trigger(run, event, at, variables or {})
        return
    parent = run.instance.parent_instance_key
    if parent is not None:
        # Not caught here: the parent's call activity (and the scopes around it) may catch it.
        run.send(parent, Command.Kind.CHILD_ERROR, {
            "elementInstanceKey": str(run.instance.parent_element_instance_key),
            "childInstanceKey": str(run.instance.key),
            "errorCode": code, "errorMessage": message, "variables": variables or {},
        })
        return
    raise IncidentRaised(
        UNHANDLED_ERROR_EVENT,
        f"Expected to throw an error event with the code '{code}'"
        + (f" with message '{message}'" if message else "")
        + ", but it was not caught.",
    )


def throw_escalation(run: InstanceRun, thrower: ElementInstance, code: str) -> None:
    """Throw an escalation from an active element instance. Not critical: nothing is raised."""
    run.record("ESCALATION_THROWN", thrower, escalationCode=code)
    catch = _find_catch(run, thrower, "escalation", "escalationCode", code)
    if catch is not None:
        event, at = catch
        trigger(run, event, at, {})
        return
    parent = run.instance.parent_instance_key
    if parent is not None:
        # The parent's call activity (and the scopes around it) may catch it; this instance goes on.
        run.send(parent, Command.Kind.CHILD_ESCALATION, {
            "elementInstanceKey": str(run.instance.parent_element_instance_key),
            "childInstanceKey": str(run.instance.key), "escalationCode": code,
        })
        return
    run.record("ESCALATION_NOT_CAUGHT", thrower, escalationCode=code)


def trigger(run: InstanceRun, event: Element, at: ElementInstance, variables: dict[str, Any]) -> None:
    """Trigger a catch event: a boundary event of `at`, or the start of an event subprocess inside `at`."""
    if not accepts(at, event.kind):
        return  # on its way out (canceling task listeners run): Camunda takes no new event there
    if event.kind == "boundaryEvent":
        scope_key = at.flow_scope_key
        assert scope_key is not None
        if event.props.get("interrupting", True) and not terminate(run, at):
            # The boundary event is activated once its activity ended (engine/runtime/termination.py).
            at.data["terminating"].update(activate=event.id, variables=variables)
            return
        tokens.activate(run, event, scope_key, result=variables)
        return
    esp = run.graph.elements[event.parent]  # type: ignore[index]
    if event.props.get("interrupting", True) and not interrupt_scope(run, at):
        wait_then(run, at, {"activate": esp.id, "variables": variables})  # started once the scope is empty
        return
    tokens.activate(run, esp, at.key, result=variables)
