"""Deploying resources: parse and validate all of them, then store, in one transaction."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction

from engine.audit import record
from engine.bpmn import DefinitionError, Problem, parse_bpmn
from engine.definitions import decisions as dmn
from engine.definitions.forms import compile_forms, is_form_resource, store_forms
from engine.definitions.resources import Resource
from engine.flows import document as flow_document
from engine.flows.triggers import sync_triggers
from engine.graph import Graph
from engine.keys import next_key
from engine.models import (
    DecisionDefinition,
    DecisionRequirements,
    Deployment,
    MessageSubscription,
    ProcessDefinition,
    SignalSubscription,
    Timer,
)
from engine.timers import schedule
from flowsync.models import Tenant


def _compile(resource: Resource) -> list[Graph]:
    if flow_document.is_flow_resource(resource.name):
        return [flow_document.load(resource.name, resource.content)[1]]
    if resource.name.lower().endswith((".bpmn", ".bpmn20.xml", ".xml")):
        return parse_bpmn(resource.content, resource.name)
    raise DefinitionError(
        resource.name,
        [Problem("unsupported resource type; expected a .bpmn, .dmn, .flow.json, .form or .schema.json file")]
    )


@dataclass
class Deployed:
    deployment: Deployment
    processes: list[ProcessDefinition]
    # (decision requirements, its decisions) per .dmn file: new versions, or the unchanged latest
    decisions: list[tuple[DecisionRequirements, list[DecisionDefinition]]] = field(default_factory=list)


def deploy(
    tenant: Tenant, resources: list[Resource], now: datetime, actor: str = ""
) -> tuple[Deployment, list[ProcessDefinition]]:
    """Deploy every resource or none (see deploy_all); the deployment and its process definitions."""
    deployed = deploy_all(tenant, resources, now, actor)
    return deployed.deployment, deployed.processes


def deploy_all(tenant: Tenant, resources: list[Resource], now: datetime, actor: str = "") -> Deployed:
    """Deploy every resource or none. Identical content of the latest version creates no new version.

    `actor` (who deploys) is written to the audit trail in the same transaction."""
    if not resources:
        raise DefinitionError("(request)", [Problem("no resources to deploy")])
    # Form resources (.form, .schema.json) are checked and stored beside the processes, and so are
    # DMN resources (.dmn).
    forms = compile_forms([res for res in resources if is_form_resource(res.name)])
    models = [(res, dmn.compile_dmn(res)) for res in resources if dmn.is_dmn_resource(res.name)]
    _check_decision_ids(models)
    dmn.check_imports(tenant, models)
    compiled = [(res, graph) for res in resources
                if not is_form_resource(res.name) and not dmn.is_dmn_resource(res.name) for graph in _compile(res)]
    seen: set[str] = set()
    for res, graph in compiled:
        if graph.process_id in seen:
            raise DefinitionError(
                res.name, [Problem(f"process id '{graph.process_id}' is deployed twice in one request")]
            )
        seen.add(graph.process_id)
    in_request = {decision_id for _, model in models for decision_id in model.decisions}
    for res, graph in compiled:
        _check_deployment_binding(res, graph, in_request, seen)

    with transaction.atomic():
        deployment = Deployment.objects.create(key=next_key(), tenant=tenant, created_at=now)
        decisions = [dmn.store(tenant, deployment, res, model, now) for res, model in models]
        by_id = {row.decision_id: row.key for _, rows in decisions for row in rows}
        definitions = []
        for res, graph in compiled:
            for element in graph.elements.values():
                # bindingType="deployment": the decision deployed with this process, fixed now.
                if element.props.get("bindingType") == "deployment" and "decisionId" in element.props:
                    element.props["decisionKey"] = str(by_id[element.props["decisionId"]])
            definitions.append(_store(tenant, deployment, res, graph, now))
        _bind_called_processes(deployment, [graph for _, graph in compiled], definitions)
        store_forms(tenant, deployment, forms, now)
        record(tenant, actor or "system", "deploy", target_type="deployment", target_key=deployment.key,
               after={"resources": [r.name for r in resources],
                      "definitions": [{"key": str(d.key), "bpmnProcessId": d.bpmn_process_id, "version": d.version}
                                      for d in definitions],
                      "decisions": [{"key": str(d.key), "decisionId": d.decision_id, "version": d.version}
                                    for _, rows in decisions for d in rows]}, now=now)
    return Deployed(deployment, definitions, decisions)


def _check_decision_ids(models: list) -> None:  # type: ignore[type-arg]
    """One request may not carry a decision requirements id or a decision id twice."""
    drgs: set[str] = set()
    ids: set[str] = set()
    for res, model in models:
        if model.id in drgs:
            raise DefinitionError(res.name, [Problem(
                f"decision requirements id '{model.id}' is deployed twice in one request")])
        drgs.add(model.id)
        for decision_id in model.decisions:
            if decision_id in ids:
                raise DefinitionError(res.name, [Problem(
                    f"decision id '{decision_id}' is deployed twice in one request", element_id=decision_id,
                    element_kind="decision")])
            ids.add(decision_id)


def _check_deployment_binding(res: Resource, graph: Graph, decisions: set[str], processes: set[str]) -> None:
    """Camunda 8: a business rule task or call activity bound to its deployment needs the decision
    or process it calls in the same request."""
    problems = []
    for e in graph.elements.values():
        if e.props.get("bindingType") != "deployment":
            continue
        if "decisionId" in e.props and e.props["decisionId"] not in decisions:
            problems.append(Problem(f"zeebe:calledDecision bindingType=\"deployment\" needs decision "
                                    f"'{e.props['decisionId']}' in the same deployment", element_id=e.id,
                                    element_kind=e.kind, line=e.line))
        if "processId" in e.props and e.props["processId"] not in processes:
            problems.append(Problem(f"zeebe:calledElement bindingType=\"deployment\" needs process "
                                    f"'{e.props['processId']}' in the same deployment", element_id=e.id,
                                    element_kind=e.kind, line=e.line))
    if problems:
        raise DefinitionError(res.name, problems)


def _bind_called_processes(deployment: Deployment, graphs: list[Graph], definitions: list[ProcessDefinition]) -> None:
    """bindingType="deployment" on a call activity: the version of the called process this deployment
    holds (a new one, or the unchanged latest), fixed in the caller's stored graph. Keys exist only
    once every process of the request is stored, so this runs after them."""
    by_id = {d.bpmn_process_id: d.key for d in definitions}
    for graph, definition in zip(graphs, definitions, strict=True):
        bound = [e for e in graph.elements.values()
                 if e.props.get("bindingType") == "deployment" and "processId" in e.props]
        if not bound or definition.deployment_id != deployment.pk:
            continue  # unchanged content: the stored version keeps the binding of its own deployment
        for e in bound:
            e.props["processDefinitionKey"] = str(by_id[e.props["processId"]])
        definition.graph = graph.to_json()
        definition.save(update_fields=["graph"])


def _store(tenant: Tenant, deployment: Deployment, res: Resource, graph: Graph, now: datetime) -> ProcessDefinition:
    source = res.content.decode("utf-8", errors="replace")
    checksum = hashlib.sha256(res.content + graph.process_id.encode()).hexdigest()
    if connection.vendor == "postgresql":
        # Serialize concurrent deployments of one process id so versions stay gapless and unique.
        lock_id = zlib.crc32(f"{tenant.pk}:{graph.process_id}".encode())
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
    latest = (
        ProcessDefinition.objects.filter(tenant=tenant, bpmn_process_id=graph.process_id)
        .order_by("-version")
        .only("key", "version", "checksum")
        .first()
    )
    if latest is not None and latest.checksum == checksum:
        return ProcessDefinition.objects.get(key=latest.key)
    definition = ProcessDefinition.objects.create(
        key=next_key(),
        tenant=tenant,
        deployment=deployment,
        kind=ProcessDefinition.Kind.DAG if flow_document.is_flow_resource(res.name) else ProcessDefinition.Kind.BPMN,
        bpmn_process_id=graph.process_id,
        name=graph.name,
        version=(latest.version + 1) if latest else 1,
        version_tag=graph.version_tag,
        resource_name=res.name,
        checksum=checksum,
        source=source,
        graph=graph.to_json(),
        created_at=now,
    )
    open_start_events(definition, graph, now)
    if definition.kind == ProcessDefinition.Kind.DAG:
        sync_triggers(tenant, flow_document.parse(res.name, res.content), now)
    return definition


def open_start_events(definition: ProcessDefinition, graph: Graph, now: datetime) -> None:
    """Message, timer and signal start events listen from deployment on; only the latest version does."""
    earlier = {"process_definition_key__in": ProcessDefinition.objects.filter(
        tenant_id=definition.tenant_id, bpmn_process_id=definition.bpmn_process_id).exclude(key=definition.key)
        .values("key"), "process_instance_key__isnull": True}
    Timer.objects.filter(state=Timer.State.ACTIVE, **earlier).update(state=Timer.State.CANCELED)
    MessageSubscription.objects.filter(state=MessageSubscription.State.ACTIVE, **earlier).update(
        state=MessageSubscription.State.DELETED)
    SignalSubscription.objects.filter(state=SignalSubscription.State.ACTIVE, **earlier).update(
        state=SignalSubscription.State.DELETED)
    common = {"tenant_id": definition.tenant_id, "process_instance_key": None, "element_instance_key": None,
              "process_definition_key": definition.key, "created_at": now}
    for start in graph.event_starts(None):
        event = start.props["event"]
        if event["type"] == "message":
            MessageSubscription.objects.create(key=next_key(), bpmn_process_id=definition.bpmn_process_id,
                                               element_id=start.id, message_name=event["messageName"], **common)
        elif event["type"] == "signal":
            SignalSubscription.objects.create(key=next_key(), element_id=start.id, signal_name=event["signalName"],
                                              **common)
        elif event["type"] == "timer":
            kind = next(k for k in ("timeDate", "timeDuration", "timeCycle") if event.get(k))
            value = event[kind]
            if value.startswith("="):
                raise DefinitionError(definition.resource_name, [Problem(
                    "a timer start event needs a static timer value (there are no variables before the instance "
                    "exists)", element_id=start.id, element_kind="startEvent", line=start.line)])
            try:
                due, reps = schedule.first_due(
                    {"timeDate": "date", "timeDuration": "duration", "timeCycle": "cycle"}[kind], value, now)
            except schedule.TimerSpecError as exc:
                raise DefinitionError(definition.resource_name, [Problem(
                    str(exc), element_id=start.id, element_kind="startEvent", line=start.line)]) from None
            Timer.objects.create(key=next_key(), element_id=start.id, due_at=due, repetitions=reps,
                                 spec=value if kind == "timeCycle" else "", **common)
