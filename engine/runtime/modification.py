"""Process instance modification (Camunda 8): activate elements, terminate element instances,
applied together as one command (`Command.Kind.MODIFY_INSTANCE`), so the instance never shows half
a move. The rules of what may be touched live in `engine/modification.py`.

Payload: {"activate": [{"elementId", "ancestorKey"?, "variables": [{"scopeId", "variables"}]}],
"terminate": [elementInstanceKey, ...]}. Variables are set first, activations queued next (tokens
in flight keep their scope alive), terminations last; a flow scope left with no token is then
terminated too, up to the process instance (Zeebe does the same).
"""

from __future__ import annotations

from typing import Any

from engine.graph import Element
from engine.models import ElementInstance
from engine.modification import activation_refusal
from engine.runtime import tokens
from engine.runtime.errors import CommandRejected
from engine.runtime.state import InstanceRun
from engine.runtime.termination import AFTER, close_if_emptied, end_if_empty, interrupted, terminate, wait_then
from engine.runtime.tokens import ACTIVE, TERMINATED, is_body, is_inner


def _scope_for(run: InstanceRun, element: Element, ancestor_key: int | None) -> ElementInstance:
    """The active flow-scope instance the element is activated in."""
    if element.parent is None:
        scope = run.elements.get(run.instance.key)
        if ancestor_key is not None and ancestor_key != run.instance.key:
            raise CommandRejected(
                f"ancestor {ancestor_key} is not the flow scope of '{element.id}' (its scope is the process)")
        assert scope is not None
        return scope
    if ancestor_key is not None:
        scope = run.elements.get(ancestor_key)
        if scope is None or scope.state != ACTIVE or scope.element_id != element.parent or is_body(scope):
            raise CommandRejected(
                f"ancestor {ancestor_key} is not an active instance of '{element.parent}', the flow scope of "
                f"'{element.id}'")
        return scope
    candidates = [ei for ei in run.elements.values()
                  if ei.element_id == element.parent and ei.state == ACTIVE and not is_body(ei)]
    if not candidates:
        raise CommandRejected(
            f"cannot activate '{element.id}': its flow scope '{element.parent}' has no active instance "
            "(activate the scope itself, or give ancestorElementInstanceKey)")
    if len(candidates) > 1:
        raise CommandRejected(
            f"cannot activate '{element.id}': its flow scope '{element.parent}' has {len(candidates)} active "
            "instances; choose one with ancestorElementInstanceKey")
    return candidates[0]


def _variable_target(run: InstanceRun, scope: ElementInstance, element: Element, scope_id: str) -> int | None:
    """Where a variable instruction writes: None = locals of the new element instance."""
    if not scope_id or scope_id == run.graph.process_id:
        return run.instance.key
    if scope_id == element.id:
        return None
    for key in run.scope_chain(scope.key):
        ei = run.elements.get(key)
        if ei is not None and ei.element_id == scope_id and not is_body(ei):
            return key
    raise CommandRejected(f"variable scope '{scope_id}' is neither '{element.id}' nor one of its flow scopes")


def _check_terminable(run: InstanceRun, key: int) -> ElementInstance:
    ei = run.elements.get(key)
    if ei is None or ei.state != ACTIVE:
        raise CommandRejected(f"{key} is not an active element instance of process instance {run.instance.key}")
    if key == run.instance.key:
        raise CommandRejected("terminating the process instance itself is a cancellation, not a modification")
    if is_inner(run, ei):
        raise CommandRejected(
            f"element instance {key} is one instance of multi-instance '{ei.element_id}'; terminate its body "
            f"{ei.flow_scope_key} instead")
    return ei


def modify_instance(run: InstanceRun, payload: dict[str, Any]) -> None:
    if run.instance.state != run.instance.State.ACTIVE:
        raise CommandRejected("instance is not active")
    if any(interrupted(ei) for ei in run.elements.values() if ei.state == ACTIVE):
        raise CommandRejected("instance waits for canceling task listeners; modify it once they are done")
    # Validate every instruction before changing anything: the command applies whole or not at all.
    plan: list[tuple[Element, ElementInstance, dict[str, Any], list[tuple[int, dict[str, Any]]]]] = []
    for instruction in payload.get("activate") or []:
        element_id = str(instruction.get("elementId") or "")
        refusal = activation_refusal(run.graph, element_id)
        if refusal:
            raise CommandRejected(refusal)
        element = run.graph.elements[element_id]
        ancestor = instruction.get("ancestorKey")
        scope = _scope_for(run, element, int(ancestor) if ancestor not in (None, "", -1, "-1") else None)
        locals_: dict[str, Any] = {}
        scoped: list[tuple[int, dict[str, Any]]] = []
        for var_instruction in instruction.get("variables") or []:
            values = var_instruction.get("variables") or {}
            if not isinstance(values, dict):
                raise CommandRejected("variables must be a JSON object")
            target = _variable_target(run, scope, element, str(var_instruction.get("scopeId") or ""))
            if target is None:
                locals_.update(values)
            else:
                scoped.append((target, values))
        plan.append((element, scope, locals_, scoped))
    doomed = [_check_terminable(run, int(key)) for key in payload.get("terminate") or []]

    for element, scope, locals_, scoped in plan:
        for target, values in scoped:
            for name, value in values.items():
                run.set_local_variable(target, name, value)
        tokens.activate(run, element, scope.key, locals_=locals_ or None)
    emptied: list[int] = []
    for ei in doomed:
        if ei.state == ACTIVE:  # an earlier instruction may have ended it with its scope
            ended = terminate(run, ei)
            if ei.flow_scope_key is not None:
                emptied.append(ei.flow_scope_key)
                if not ended:  # canceling task listeners run first: the scope is looked at once it ended
                    wait_then(run, run.elements[ei.flow_scope_key], {"endIfEmpty": True})
    for scope_key in emptied:
        scope = run.elements[scope_key]
        if scope.data.get(AFTER, {}).get("endIfEmpty"):
            close_if_emptied(run, scope)
        end_if_empty(run, scope_key)
    _resolve_orphaned_incidents(run)


def _resolve_orphaned_incidents(run: InstanceRun) -> None:
    """An incident of an element instance that was terminated is resolved with it (Zeebe does the same)."""
    for incident in run.incidents.values():
        if incident.state != incident.State.ACTIVE:
            continue
        ei = run.elements.get(incident.element_instance_key)
        if ei is None or ei.state != TERMINATED:
            continue
        incident.state, incident.resolved_at = incident.State.RESOLVED, run.now
        run.touch("incidents", incident)
        run.record("INCIDENT_RESOLVED", ei, incidentKey=str(incident.key), reason="element terminated")
    if run.instance.has_incident and not any(i.state == i.State.ACTIVE for i in run.incidents.values()):
        run.instance.has_incident = False
        run.instance_dirty = True
