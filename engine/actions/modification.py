"""Modify a running process instance (Camunda 8): validate the instructions against the instance's
rows and graph, then write one MODIFY_INSTANCE command — every instruction applies, or none.

Moves (terminate the source, activate the target) and terminate-by-element-id are resolved here
into element instance keys, so the engine applies exactly what was validated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction

from engine.audit import record
from engine.definitions.cache import definition as cached_definition
from engine.definitions.cache import graph_of
from engine.errors import Conflict, InvalidInput, NotFound
from engine.graph import Graph
from engine.models import Command, ElementInstance, ProcessInstance
from engine.modification import activation_refusal
from engine.store.commands import submit

MULTI_INSTANCE_BODY = "MULTI_INSTANCE_BODY"


@dataclass
class Activate:
    element_id: str
    ancestor_key: int | None = None
    # [(scopeId, {name: value})]; scopeId "" = the process instance, the element's id = its own scope.
    variables: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Move:
    target_element_id: str
    source_key: int | None = None  # one element instance …
    source_element_id: str | None = None  # … or every active instance of an element
    # "direct" (ancestor_key), "inferred" (the target's scope is looked up), "sourceParent" (the source's scope),
    # "auto" (sourceParent when the target is in the source's scope, else inferred)
    ancestor: str = "inferred"
    ancestor_key: int | None = None
    variables: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Modification:
    activate: list[Activate] = field(default_factory=list)
    terminate_keys: list[int] = field(default_factory=list)
    terminate_element_ids: list[str] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)


def _active_elements(instance: ProcessInstance) -> dict[int, ElementInstance]:
    rows = ElementInstance.objects.filter(process_instance_id=instance.key, state=ElementInstance.State.ACTIVE)
    return {ei.key: ei for ei in rows.only("key", "element_id", "element_type", "flow_scope_key", "state")}


def _terminable(active: dict[int, ElementInstance], instance: ProcessInstance, key: int) -> ElementInstance:
    ei = active.get(key)
    if ei is None:
        raise InvalidInput(f"{key} is not an active element instance of process instance {instance.key}")
    if key == instance.key:
        raise InvalidInput("terminating the process instance itself is a cancellation, not a modification")
    scope = active.get(ei.flow_scope_key) if ei.flow_scope_key is not None else None
    if scope is not None and scope.element_type == MULTI_INSTANCE_BODY and scope.element_id == ei.element_id:
        raise InvalidInput(f"element instance {key} is one instance of multi-instance '{ei.element_id}'; "
                           f"terminate its body {scope.key} instead")
    return ei


def _check_activation(graph: Graph, active: dict[int, ElementInstance], instance: ProcessInstance,
                      element_id: str, ancestor_key: int | None) -> None:
    refusal = activation_refusal(graph, element_id)
    if refusal:
        raise InvalidInput(refusal)
    parent = graph.elements[element_id].parent
    if ancestor_key is not None:
        scope = active.get(ancestor_key)
        expected = parent or graph.process_id
        if scope is None or scope.element_id != expected or scope.element_type == MULTI_INSTANCE_BODY:
            raise InvalidInput(f"ancestorElementInstanceKey {ancestor_key} is not an active instance of "
                               f"'{expected}', the flow scope of '{element_id}'")
        return
    if parent is None:
        return
    scopes = [ei for ei in active.values() if ei.element_id == parent and ei.element_type != MULTI_INSTANCE_BODY]
    if not scopes:
        raise InvalidInput(f"cannot activate '{element_id}': its flow scope '{parent}' has no active instance "
                           "(activate the scope itself, or give ancestorElementInstanceKey)")
    if len(scopes) > 1:
        raise InvalidInput(f"cannot activate '{element_id}': its flow scope '{parent}' has {len(scopes)} active "
                           "instances; choose one with ancestorElementInstanceKey")


def _check_variables(graph: Graph, element_id: str, variables: list[tuple[str, dict[str, Any]]]) -> None:
    chain: set[str] = {"", graph.process_id, element_id}
    parent = graph.elements[element_id].parent
    while parent:
        chain.add(parent)
        parent = graph.elements[parent].parent
    for scope_id, values in variables:
        if not isinstance(values, dict):
            raise InvalidInput("variableInstructions[].variables must be a JSON object")
        if scope_id not in chain:
            raise InvalidInput(f"variable scope '{scope_id}' is neither '{element_id}' nor one of its flow scopes")


def _payload_activation(element_id: str, ancestor_key: int | None,
                        variables: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return {"elementId": element_id, **({"ancestorKey": str(ancestor_key)} if ancestor_key is not None else {}),
            "variables": [{"scopeId": s, "variables": v} for s, v in variables]}


def modify_instance(tenant_ids: list[int], key: int, modification: Modification, actor: str,
                    now: datetime) -> Command:
    """Validate, then write the one command that applies every instruction atomically."""
    with transaction.atomic():
        instance = ProcessInstance.objects.filter(tenant_id__in=tenant_ids, key=key).first()
        if instance is None:
            raise NotFound(f"no process instance with key {key}")
        if instance.state != ProcessInstance.State.ACTIVE:
            raise Conflict(f"process instance {key} is {instance.state}, not ACTIVE")
        graph = graph_of(cached_definition(instance.definition_id))
        active = _active_elements(instance)
        activations: list[dict[str, Any]] = []
        terminate: list[int] = []

        def add_terminate(ei: ElementInstance) -> None:
            if ei.key not in terminate:
                terminate.append(ei.key)

        for a in modification.activate:
            _check_activation(graph, active, instance, a.element_id, a.ancestor_key)
            _check_variables(graph, a.element_id, a.variables)
            activations.append(_payload_activation(a.element_id, a.ancestor_key, a.variables))
        for k in modification.terminate_keys:
            add_terminate(_terminable(active, instance, k))
        for element_id in modification.terminate_element_ids:
            found = [ei for ei in active.values() if ei.element_id == element_id and ei.key != instance.key]
            if not found:
                raise InvalidInput(f"element '{element_id}' has no active instance to terminate")
            for ei in found:
                if ei.element_type == MULTI_INSTANCE_BODY or not _is_inner(active, ei):
                    add_terminate(_terminable(active, instance, ei.key))
        for m in modification.moves:
            sources = _move_sources(active, instance, m)
            for source in sources:
                add_terminate(source)
                ancestor = m.ancestor
                if ancestor == "auto":  # the source's own scope when the target lives there (Inspector)
                    ancestor = "sourceParent" if _same_scope(graph, active, source, m.target_element_id) else "inferred"
                ancestor_key = m.ancestor_key if ancestor == "direct" else (
                    source.flow_scope_key if ancestor == "sourceParent" else None)
                _check_activation(graph, active, instance, m.target_element_id, ancestor_key)
                _check_variables(graph, m.target_element_id, m.variables)
                activations.append(_payload_activation(m.target_element_id, ancestor_key, m.variables))
        if not activations and not terminate:
            raise InvalidInput("the modification has no instructions")
        payload = {"activate": activations, "terminate": [str(k) for k in terminate]}
        command = submit(instance.tenant_id, instance.key, Command.Kind.MODIFY_INSTANCE, payload, actor, now)
        record(instance.tenant_id, actor, "instance.modify", target_type="process-instance", target_key=instance.key,
               instance_key=instance.key, after=payload, now=now)
        return command


def _is_inner(active: dict[int, ElementInstance], ei: ElementInstance) -> bool:
    scope = active.get(ei.flow_scope_key) if ei.flow_scope_key is not None else None
    return scope is not None and scope.element_type == MULTI_INSTANCE_BODY and scope.element_id == ei.element_id


def _move_sources(active: dict[int, ElementInstance], instance: ProcessInstance, m: Move) -> list[ElementInstance]:
    if m.source_key is not None:
        return [_terminable(active, instance, m.source_key)]
    found = [ei for ei in active.values()
             if ei.element_id == m.source_element_id and ei.key != instance.key and not _is_inner(active, ei)]
    if not found:
        raise InvalidInput(f"element '{m.source_element_id}' has no active instance to move")
    return [_terminable(active, instance, ei.key) for ei in found]


def _same_scope(graph: Graph, active: dict[int, ElementInstance], source: ElementInstance, target_id: str) -> bool:
    target = graph.elements.get(target_id)
    scope = active.get(source.flow_scope_key) if source.flow_scope_key is not None else None
    if target is None or scope is None:
        return False
    return scope.element_id == (target.parent or graph.process_id)
