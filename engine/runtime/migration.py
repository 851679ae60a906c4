"""Process instance migration (Camunda 8): the instance, its active element instances and their
open work move to another process definition in one command (`Command.Kind.MIGRATE_INSTANCE`).
What may migrate is `engine/migration.py`'s rule, checked again here against the rows as they
are now.

Payload: {"targetProcessDefinitionKey": str, "mappingInstructions": [{"sourceElementId",
"targetElementId"}]}. Rows keep their keys; what names the element or the definition is rewritten
(element instances, jobs, user tasks, incidents, timers, subscriptions) and written by the flush
as `run.relabels`. Waits of mapped catch events are kept; the others of a migrated element
instance are withdrawn and the target's opened.
"""

from __future__ import annotations

from typing import Any

from engine.definitions.cache import definition as cached_definition
from engine.definitions.cache import graph_of
from engine.graph import Element, Graph
from engine.migration import Active, Refusal, mapping_refusal, plan
from engine.models import (
    ElementInstance,
    Incident,
    Job,
    MessageSubscription,
    ProcessDefinition,
    ProcessInstance,
    SignalSubscription,
    Timer,
    UserTask,
)
from engine.runtime.errors import CommandRejected
from engine.runtime.state import InstanceRun
from engine.runtime.termination import interrupted
from engine.runtime.tokens import ACTIVE
from engine.runtime.waits import listened_events, open_wait

WAIT_MODELS = {"timers": Timer, "message_subscriptions": MessageSubscription,
               "signal_subscriptions": SignalSubscription}


def _event_type(element: Element | None) -> str | None:
    return (element.props.get("event") or {}).get("type") if element is not None else None


def migrate_instance(run: InstanceRun, payload: dict[str, Any]) -> None:
    if run.instance.state != ProcessInstance.State.ACTIVE:
        raise CommandRejected("instance is not active")
    try:
        target_def = cached_definition(int(payload["targetProcessDefinitionKey"]))
    except ProcessDefinition.DoesNotExist:  # deleted (history cleanup of a tenant) since the action checked it
        raise CommandRejected(f"no process definition {payload.get('targetProcessDefinitionKey')}") from None
    if target_def.tenant_id != run.tenant_id:
        raise CommandRejected("the target process definition belongs to another tenant")
    source, target = run.graph, graph_of(target_def)
    instructions = [(m["sourceElementId"], m["targetElementId"]) for m in payload.get("mappingInstructions") or []]
    mapping = dict(instructions)
    active = [ei for ei in run.elements.values() if ei.state == ACTIVE]
    if any(interrupted(ei) for ei in active):
        raise CommandRejected("instance waits for canceling task listeners; migrate it once they are done")
    rows = [Active(ei.key, ei.element_id, ei.element_type,
                   run.elements[ei.flow_scope_key].element_id if ei.flow_scope_key in run.elements else None)
            for ei in active]
    refusal = mapping_refusal(source, target, instructions)
    steps = refusal or plan(source, target, mapping, rows)
    if isinstance(steps, Refusal):
        raise CommandRejected(steps.detail)

    old_definition_key = run.definition.key
    run.graph, run.definition = target, target_def
    run.process_element = target.process_element()
    run.instance.definition_id = target_def.key
    run.relabels.append((ProcessInstance, run.instance.key, {"definition_id": target_def.key}))
    work = {"process_definition_key": target_def.key, "bpmn_process_id": target_def.bpmn_process_id,
            "process_definition_version": target_def.version}
    by_key = {s.key: s for s in steps}
    for ei in active:
        step = by_key[ei.key]
        _relabel(run, ElementInstance, ei, {"element_id": step.target_element_id})
    for job in run.jobs.values():
        if job.element_instance_key in by_key and job.state in (Job.State.ACTIVATABLE, Job.State.ACTIVATED,
                                                                 Job.State.FAILED):
            _relabel(run, Job, job, {"element_id": by_key[job.element_instance_key].target_element_id, **work})
    for task in run.user_tasks.values():
        if task.element_instance_key in by_key and task.state in (UserTask.State.CREATING, UserTask.State.CREATED,
                                                                  UserTask.State.COMPLETING):
            _relabel(run, UserTask, task, {"element_id": by_key[task.element_instance_key].target_element_id,
                                           **work})
    for incident in run.incidents.values():
        if incident.element_instance_key in by_key and incident.state == Incident.State.ACTIVE:
            _relabel(run, Incident, incident, {
                "element_id": by_key[incident.element_instance_key].target_element_id,
                "process_definition_key": target_def.key, "bpmn_process_id": target_def.bpmn_process_id})
    for ei in active:
        _migrate_waits(run, ei, mapping, source)
    run.record("PROCESS_INSTANCE_MIGRATED", run.elements.get(run.instance.key),
               sourceProcessDefinitionKey=str(old_definition_key), targetProcessDefinitionKey=str(target_def.key),
               elements={str(s.key): [s.source_element_id, s.target_element_id] for s in steps})


def _relabel(run: InstanceRun, model: type, row: Any, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        setattr(row, name, value)
    run.relabels.append((model, row.key, fields))


def _migrate_waits(run: InstanceRun, ei: ElementInstance, mapping: dict[str, str], source: Graph) -> None:
    """Keep the waits of catch events mapped to one of the same type; withdraw the rest, open the target's."""
    element = run.element(ei.element_id)
    wanted = {e.id: e for e in listened_events(run, element)}
    kept: set[str] = set()
    for table, row in list(run.waits.get(ei.key, [])):
        goal = mapping.get(row.element_id)
        if goal in wanted and goal not in kept and _event_type(source.elements.get(row.element_id)) == \
                _event_type(wanted[goal]):
            fields: dict[str, Any] = {"element_id": goal, "process_definition_key": run.definition.key}
            if table == "message_subscriptions":
                fields["bpmn_process_id"] = run.definition.bpmn_process_id
            _relabel(run, WAIT_MODELS[table], row, fields)
            kept.add(goal)
            continue
        _close_one(run, ei.key, table, row)
    for event_id, event in wanted.items():
        if event_id in kept or (event is element and ei.data.get("triggered")):
            continue
        open_wait(run, ei, event)


def _close_one(run: InstanceRun, ei_key: int, table: str, row: Any) -> None:
    waits = run.waits.get(ei_key, [])
    waits[:] = [(t, r) for t, r in waits if r is not row]
    if table == "timers":
        row.state = Timer.State.CANCELED
    elif table == "message_subscriptions":
        row.state = MessageSubscription.State.DELETED
    else:
        row.state = SignalSubscription.State.DELETED
    run.touch(table, row)
