"""Flows as their users see them: flows and versions, triggers, executions and step executions.

An execution is a process instance of a flow definition; a step execution is what the engine
did for one node: its element instance, its job (attempts) or incident, or a skip.

    status of a run   running (ACTIVE) · failed (ACTIVE with an incident: resumable, or ended by a
                      fail node / timeout: `flowError`) · succeeded (COMPLETED) · canceled (TERMINATED)
    status of a step  pending · running · retrying (its job waits for the next attempt) · succeeded ·
                      failed (incident, error caught by on_failure continue, timeout, fail node) · skipped
                      (a join rule said so, or the run ended without reaching the node) · canceled
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Max

from engine import expressions
from engine.flows.compile import ERROR_VARIABLE
from engine.flows.validate import expression_text
from engine.models import (
    Command,
    ElementInstance,
    Event,
    FlowTrigger,
    Incident,
    Job,
    ProcessDefinition,
    ProcessInstance,
    StepLog,
    Timer,
    Variable,
    WebhookDelivery,
)
from engine.queries.common import get_or_404

DAG = ProcessDefinition.Kind.DAG


def flows(tenant_ids: list[int]) -> list[ProcessDefinition]:
    """The latest version of every flow."""
    latest = (ProcessDefinition.objects.filter(tenant_id__in=tenant_ids, kind=DAG)
              .values("tenant_id", "bpmn_process_id").annotate(v=Max("version")))
    wanted = {(r["tenant_id"], r["bpmn_process_id"], r["v"]) for r in latest}
    rows = ProcessDefinition.objects.filter(tenant_id__in=tenant_ids, kind=DAG).defer("graph", "source")
    return sorted((d for d in rows if (d.tenant_id, d.bpmn_process_id, d.version) in wanted),
                  key=lambda d: d.bpmn_process_id)


def versions(tenant_ids: list[int], flow_id: str) -> list[ProcessDefinition]:
    return list(ProcessDefinition.objects.filter(tenant_id__in=tenant_ids, kind=DAG, bpmn_process_id=flow_id)
                .defer("graph").order_by("-version"))


def triggers(tenant_ids: list[int], flow_id: str) -> list[FlowTrigger]:
    return list(FlowTrigger.objects.filter(tenant_id__in=tenant_ids, flow_id=flow_id).order_by("trigger_id"))


def next_fire_times(tenant_ids: list[int], flow_id: str) -> dict[str, Any]:
    """Schedule trigger id → the due time of its live timer (the latest version's)."""
    latest = (ProcessDefinition.objects.filter(tenant_id__in=tenant_ids, kind=DAG, bpmn_process_id=flow_id)
              .order_by("-version").values_list("key", flat=True).first())
    timers = Timer.objects.filter(process_definition_key=latest, process_instance_key__isnull=True,
                                  state=Timer.State.ACTIVE, element_id__startswith="trigger.")
    return {t.element_id.removeprefix("trigger."): t.due_at for t in timers}


def deliveries(tenant_ids: list[int], flow_id: str, limit: int = 100) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(tenant_id__in=tenant_ids, trigger__flow_id=flow_id)
                .select_related("trigger").order_by("-id")[:limit])


def document(definition: ProcessDefinition) -> dict[str, Any]:
    return json.loads(definition.source)


def runs(tenant_ids: list[int], flow_id: str, limit: int = 100) -> list[ProcessInstance]:
    return list(ProcessInstance.objects.filter(tenant_id__in=tenant_ids, definition__kind=DAG,
                                               definition__bpmn_process_id=flow_id)
                .select_related("definition").order_by("-key")[:limit])


def dead_letters(tenant_ids: list[int], flow_id: str | None = None, code: str | None = None,
                 limit: int = 200) -> list[dict[str, Any]]:
    """Runs that failed after their retries and wait for an operator: an active incident on a flow run."""
    qs = Incident.objects.filter(tenant_id__in=tenant_ids, state=Incident.State.ACTIVE)
    if code:
        qs = qs.filter(error_type=code)
    runs = ProcessInstance.objects.filter(tenant_id__in=tenant_ids, definition__kind=DAG,
                                          state=ProcessInstance.State.ACTIVE)
    if flow_id:
        runs = runs.filter(definition__bpmn_process_id=flow_id)
    found = qs.filter(process_instance_key__in=runs.values("key")).order_by("-key")[:limit]
    flows_of = dict(runs.filter(key__in=[i.process_instance_key for i in found])
                    .values_list("key", "definition__bpmn_process_id"))
    return [{"executionId": str(i.process_instance_key), "flow": flows_of.get(i.process_instance_key),
             "node": i.element_id, "code": i.error_type, "message": i.error_message, "failedAt": i.created_at}
            for i in found]


def run_ended(key: int) -> bool:
    return ProcessInstance.objects.filter(key=key).exclude(state=ProcessInstance.State.ACTIVE).exists()


def _run_instance(tenant_ids: list[int], key: int) -> ProcessInstance:
    return get_or_404(ProcessInstance.objects.filter(tenant_id__in=tenant_ids, definition__kind=DAG)
                      .select_related("definition"), key, "flow execution")


def _evaluate(text: str, variables: dict[str, Any]) -> Any:
    source = expression_text(text)
    compiled = expressions.compile_feel(source) if source.startswith("=") else expressions.compile_cel(source)
    return compiled.evaluate(variables)


def execution(tenant_ids: list[int], key: int) -> dict[str, Any]:
    instance = _run_instance(tenant_ids, key)
    definition = instance.definition
    doc = json.loads(ProcessDefinition.objects.values_list("source", flat=True).get(key=definition.key))
    variables = dict(Variable.objects.filter(process_instance_id=key, scope_key=key).values_list("name", "value"))
    created = Command.objects.filter(process_instance_key=key, kind=Command.Kind.CREATE_INSTANCE).first()
    error = variables.get(ERROR_VARIABLE) if isinstance(variables.get(ERROR_VARIABLE), dict) else None
    incidents = list(Incident.objects.filter(process_instance_key=key, state=Incident.State.ACTIVE)
                     .values("key", "element_id", "error_type", "error_message"))
    if instance.state == ProcessInstance.State.TERMINATED:
        status = "canceled"
    elif error or incidents:
        status = "failed"
    elif instance.state == ProcessInstance.State.COMPLETED:
        status = "succeeded"
    else:
        status = "running"
    output: Any = None
    output_error = ""
    if status == "succeeded" and doc.get("output"):
        try:
            output = {name: _evaluate(text, variables) for name, text in doc["output"].items()}
        except (expressions.EvaluationError, expressions.ExpressionError) as exc:
            output_error = str(exc)
    return {
        "id": str(key),
        "flow": definition.bpmn_process_id,
        "version": definition.version,
        "status": status,
        "input": (created.payload.get("variables") if created else None) or {},
        "output": output,
        **({"outputError": output_error} if output_error else {}),
        "error": error or ({"code": incidents[0]["error_type"], "message": incidents[0]["error_message"],
                            "node": incidents[0]["element_id"]} if incidents else None),
        "startedAt": instance.start_date,
        "endedAt": instance.end_date,
        "trigger": _trigger(key, tenant_ids, created, definition.bpmn_process_id),
    }


def _trigger(key: int, tenant_ids: list[int], created: Command | None, flow_id: str) -> dict[str, Any]:
    delivery = (WebhookDelivery.objects.filter(tenant_id__in=tenant_ids, process_instance_key=key,
                                               outcome__in=[WebhookDelivery.Outcome.STARTED,
                                                            WebhookDelivery.Outcome.REPLAYED])
                .select_related("trigger").first())
    if delivery is not None:
        shown = {"kind": "webhook", "id": delivery.trigger.trigger_id, "deliveryId": delivery.delivery_id or None}
        if delivery.outcome == WebhookDelivery.Outcome.REPLAYED:
            shown["replayedBy"] = created.actor if created else ""
        return shown
    chained = created.payload.get("chain") if created else None
    if chained:  # an event trigger on another run's end (engine/runtime/chains.py)
        return {"kind": "event", "id": chained["trigger"], "after": {
            "flow": chained["flow"], "executionId": chained["executionId"], "status": chained["status"]}}
    start = (created.payload.get("startElementId") or "") if created else ""
    if start.startswith("trigger."):
        trigger_id = start.removeprefix("trigger.")
        kind = (FlowTrigger.objects.filter(tenant_id__in=tenant_ids, flow_id=flow_id, trigger_id=trigger_id)
                .values_list("kind", flat=True).first())
        return {"kind": kind or "schedule", "id": trigger_id}
    return {"kind": "manual", "actor": created.actor if created else ""}


def steps(tenant_ids: list[int], key: int) -> list[dict[str, Any]]:
    instance = _run_instance(tenant_ids, key)
    doc = json.loads(ProcessDefinition.objects.values_list("source", flat=True).get(key=instance.definition_id))
    elements: dict[str, ElementInstance] = {}
    fired: set[str] = set()
    for ei in ElementInstance.objects.filter(process_instance_id=key).exclude(key=key).order_by("key"):
        if ei.element_id.endswith((".failed", ".timeout")):
            fired.add(ei.element_id.rsplit(".", 1)[0])
        elements.setdefault(ei.element_id, ei)
    jobs = {j.element_id: j for j in Job.objects.filter(process_instance_key=key)}
    incidents = {i.element_id: i for i in Incident.objects.filter(process_instance_key=key,
                                                                  state=Incident.State.ACTIVE)}
    skipped = {r["elementId"] for records in Event.objects.filter(process_instance_key=key)
               .values_list("records", flat=True) for r in records if r.get("intent") == "FLOW_NODE_SKIPPED"}
    variables = dict(Variable.objects.filter(process_instance_id=key, scope_key=key).values_list("name", "value"))
    logs: dict[tuple[int, int], list[str]] = {
        (job_key, attempt): lines for job_key, attempt, lines in
        StepLog.objects.filter(process_instance_key=key).values_list("job_key", "attempt", "lines")}
    ended = instance.state != ProcessInstance.State.ACTIVE
    out = []
    for node in doc["nodes"]:
        nid = node["id"]
        ei, job, incident = elements.get(nid), jobs.get(nid), incidents.get(nid)
        if ei is None:
            status = "skipped" if nid in skipped or ended else "pending"
        elif incident is not None:
            status = "failed"
        elif ei.state == ElementInstance.State.ACTIVE:
            waiting = job is not None and job.failures and job.state == Job.State.ACTIVATABLE
            status = "retrying" if waiting else "running"
        elif ei.state == ElementInstance.State.COMPLETED:
            status = "failed" if node["kind"] == "fail" else "succeeded"
        else:
            status = "failed" if nid in fired else "canceled"
        out.append({
            "node": nid,
            "kind": node["kind"],
            "status": status,
            "startedAt": ei.start_date if ei else None,
            "endedAt": ei.end_date if ei else None,
            "attempts": _with_logs(_attempts(ei, job, status), job, logs),
            "error": (incident.error_message if incident else (job.error_message if job and status == "failed"
                                                                 else None)),
            "result": _result(node, variables) if status == "succeeded" else None,
        })
    return out


def _attempts(ei: ElementInstance | None, job: Job | None, status: str) -> list[dict[str, Any]]:
    if ei is None:
        return []
    if job is None:
        return [{"attempt": 1, "startedAt": ei.start_date, "endedAt": ei.end_date, "error": None}]
    found = [{k: a.get(k) for k in ("attempt", "startedAt", "endedAt", "error")} for a in job.attempts]
    if job.state in (Job.State.COMPLETED, Job.State.ACTIVATED) or status == "succeeded":
        found.append({"attempt": len(found) + 1,
                      "startedAt": job.attempts[-1].get("retryAt") if job.attempts else job.created_at,
                      "endedAt": ei.end_date, "error": None})
    return found


def _with_logs(attempts: list[dict[str, Any]], job: Job | None, logs: dict[tuple[int, int], list[str]]
               ) -> list[dict[str, Any]]:
    """Each attempt with what its connector sent and got (http nodes; truncated, secrets masked)."""
    for attempt in attempts:
        attempt["log"] = logs.get((job.key, attempt["attempt"]), []) if job is not None else []
    return attempts


def _result(node: dict[str, Any], variables: dict[str, Any]) -> Any:
    if node.get("output"):
        return {name: variables.get(name) for name in node["output"]}
    if node["kind"] == "http":
        return variables.get(node.get("result", node["id"]))
    if node["kind"] == "transform":
        return {name: variables.get(name) for name in node["set"]}
    return None


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed between two versions of a flow document: nodes by id, edges by their ends, the rest by key."""
    old_nodes = {n["id"]: n for n in old["nodes"]}
    new_nodes = {n["id"]: n for n in new["nodes"]}

    def edge_key(e: dict[str, Any]) -> str:
        return f"{e['from']} → {e['to']}"

    old_edges = {edge_key(e): e for e in old.get("edges", [])}
    new_edges = {edge_key(e): e for e in new.get("edges", [])}
    changed_nodes = [
        {"id": nid, "options": sorted(k for k in set(old_nodes[nid]) | set(new_nodes[nid])
                                      if old_nodes[nid].get(k) != new_nodes[nid].get(k))}
        for nid in sorted(set(old_nodes) & set(new_nodes)) if old_nodes[nid] != new_nodes[nid]
    ]
    return {
        "nodes": {"added": sorted(set(new_nodes) - set(old_nodes)), "removed": sorted(set(old_nodes) - set(new_nodes)),
                  "changed": changed_nodes},
        "edges": {"added": sorted(set(new_edges) - set(old_edges)), "removed": sorted(set(old_edges) - set(new_edges)),
                  "changed": sorted(k for k in set(old_edges) & set(new_edges) if old_edges[k] != new_edges[k])},
        "other": sorted(k for k in (set(old) | set(new)) - {"nodes", "edges", "version"} if old.get(k) != new.get(k)),
    }
