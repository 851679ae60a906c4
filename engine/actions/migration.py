"""Migrate a running process instance to another process definition (Camunda 8): check the plan
against the instance's rows and both graphs (engine/migration.py), then write one MIGRATE_INSTANCE
command — the runtime checks it again and applies it whole, or not at all.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from engine.audit import record
from engine.definitions.cache import definition as cached_definition
from engine.definitions.cache import graph_of
from engine.errors import Conflict, InvalidInput, NotFound
from engine.migration import Active, Refusal, Step, mapping_refusal, plan
from engine.models import Command, ElementInstance, ProcessDefinition, ProcessInstance
from engine.store.commands import submit


def _raise(refusal: Refusal) -> None:
    raise (Conflict if refusal.state else InvalidInput)(refusal.detail)


def _active(instance: ProcessInstance) -> list[Active]:
    rows = list(ElementInstance.objects.filter(process_instance_id=instance.key, state=ElementInstance.State.ACTIVE)
                .values_list("key", "element_id", "element_type", "flow_scope_key"))
    ids = {key: element_id for key, element_id, _, _ in rows}
    return [Active(key, element_id, element_type, ids.get(scope) if scope is not None else None)
            for key, element_id, element_type, scope in rows]


def check(tenant_ids: list[int], key: int, target_definition_key: int,
          instructions: list[tuple[str, str]]) -> tuple[ProcessInstance, ProcessDefinition, list[Step]]:
    """The dry run: what the migration would do to each active element instance, or the refusal."""
    instance = ProcessInstance.objects.filter(tenant_id__in=tenant_ids, key=key).first()
    if instance is None:
        raise NotFound(f"no process instance with key {key}")
    if instance.state != ProcessInstance.State.ACTIVE:
        raise Conflict(f"process instance {key} is {instance.state}, not ACTIVE")
    target = ProcessDefinition.objects.filter(tenant_id=instance.tenant_id, key=target_definition_key).first()
    if target is None:
        raise NotFound(f"no process definition with key {target_definition_key} in the instance's tenant")
    source_graph = graph_of(cached_definition(instance.definition_id))
    target_graph = graph_of(target)
    refusal = mapping_refusal(source_graph, target_graph, instructions)
    if refusal:
        _raise(refusal)
    steps = plan(source_graph, target_graph, dict(instructions), _active(instance))
    if isinstance(steps, Refusal):
        _raise(steps)
        raise AssertionError  # unreachable; keeps the type checker honest
    return instance, target, steps


def migrate_instance(tenant_ids: list[int], key: int, target_definition_key: int,
                     instructions: list[tuple[str, str]], actor: str, now: datetime) -> Command:
    """Validate, then write the one command that moves the instance to the target definition."""
    with transaction.atomic():
        instance, target, _ = check(tenant_ids, key, target_definition_key, instructions)
        if Command.objects.filter(process_instance_key=instance.key, kind=Command.Kind.MIGRATE_INSTANCE,
                                  state=Command.State.PENDING).exists():
            raise Conflict(f"process instance {key} has a migration pending already")
        payload = {"targetProcessDefinitionKey": str(target.key),
                   "mappingInstructions": [{"sourceElementId": s, "targetElementId": t} for s, t in instructions]}
        command = submit(instance.tenant_id, instance.key, Command.Kind.MIGRATE_INSTANCE, payload, actor, now)
        record(instance.tenant_id, actor, "instance.migrate", target_type="process-instance",
               target_key=instance.key, instance_key=instance.key,
               before={"processDefinitionKey": str(instance.definition_id)}, after=payload, now=now)
        return command

