"""A validated flow document → the same executable Graph BPMN compiles into (no second engine).

Node kind → graph element:
    http, email   serviceTask with the connector's reserved job type (flowsync:http, flowsync:email)
    job           serviceTask with the node's job type (external workers, same job API)
    transform     task whose output mappings compute the variables (evaluated in the engine, no job)
    condition     inclusiveGateway: `true` edges guarded by the expression, `false` edges by its negation
    switch        exclusiveGateway: guarded edges in document order, the default edge as default flow
    delay         intermediateCatchEvent with a timer
    user_task     userTask (Tasklist)
    wait_for_event intermediateCatchEvent with a message
    subflow       callActivity (latest or pinned version of a flow or BPMN process)
    fail          terminate endEvent that sets `flowError` = {code, message, node}

Generated elements carry a `.` in their id (node ids cannot): `flow.start`, `<node>.join` (an
inclusive join with the node's join rule, when several edges arrive or an upstream node may fail
and continue), `<node>.out` (an inclusive fork for guarded edges, taking none is allowed),
`<node>.failed` (catch-all error boundary for `on_failure: continue` or failure edges), `<node>.timeout` (timer
boundary) and `<node>.timed_out` (the run fails with TIMEOUT).
"""

from __future__ import annotations

import json
from typing import Any

from engine.connectors.policy import EXPECTED_HEADER, RETRY_ON_HEADER
from engine.flows.validate import expression_text, is_value_expression
from engine.graph import Element, Flow, Graph
from engine.models import Job
from engine.timers import schedule

START = "flow.start"
STEP_FAILED = "FLOWSYNC_STEP_FAILED"
ERROR_VARIABLE = "flowError"
WORK_KINDS = ("http", "job", "email", "subflow")
DEFAULT_ATTEMPTS = 3


def _value(mapping_target: str, value: Any) -> dict[str, Any]:
    """An input/output mapping: an expression source, or a JSON constant."""
    if is_value_expression(value):
        return {"source": value.strip(), "target": mapping_target}
    return {"value": value, "target": mapping_target}


def _negate(text: str) -> str:
    return f"=not({text[1:]})" if text.startswith("=") else f"cel:!({text[4:]})"


def _ms(duration: str) -> float:
    return schedule.parse_duration(duration).total_seconds() * 1000


def _job_props(node: dict[str, Any], job_type: str, headers: dict[str, str]) -> dict[str, Any]:
    retry = node.get("retry") or {}
    headers = dict(headers)
    backoff = retry.get("backoff")
    if backoff is not None:
        headers[Job.BACKOFF_HEADER] = json.dumps({
            "initial_ms": _ms(backoff.get("initial", "PT1S")), "multiplier": backoff.get("multiplier", 2),
            "max_ms": _ms(backoff.get("max", "PT5M")), "jitter": backoff.get("jitter", 0),
        })
    if retry.get("on"):
        headers[RETRY_ON_HEADER] = json.dumps(retry["on"])
    props: dict[str, Any] = {"jobType": job_type, "retries": str(retry.get("max_attempts", DEFAULT_ATTEMPTS)),
                             "headers": headers, "inputs": []}
    if node.get("on_failure") == "continue":
        props["errorOnFailure"] = STEP_FAILED
    return props


def _node_element(node: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    kind, props = _kind_element(node)
    if node.get("output"):
        # Output mappings: what the node produced stays local to it; only these variables reach the run.
        props["outputs"] = [{"source": expression_text(v), "target": k} for k, v in node["output"].items()]
    return kind, props


def _kind_element(node: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    kind = node["kind"]
    if kind == "http":
        headers = {"resultVariable": node.get("result", node["id"])}
        if node.get("expected_statuses"):
            headers[EXPECTED_HEADER] = json.dumps(node["expected_statuses"])
        if node.get("idempotency_header"):
            headers["flowsync:idempotencyHeader"] = node["idempotency_header"]
        props = _job_props(node, "flowsync:http", headers)
        inputs = props["inputs"]
        inputs.append(_value("method", node.get("method", "GET")))
        inputs.append(_value("url", node["url"]))
        for name, value in (node.get("headers") or {}).items():
            inputs.append(_value(f"headers.{name}", value))
        for name, value in (node.get("query") or {}).items():
            inputs.append(_value(f"queryParameters.{name}", value))
        if "body" in node:
            inputs.append(_value("body", node["body"]))
        return "serviceTask", props
    if kind == "email":
        props = _job_props(node, "flowsync:email", {})
        props["inputs"] = [_value(key, node[key]) for key in ("to", "subject", "body", "from") if key in node]
        return "serviceTask", props
    if kind == "job":
        props = _job_props(node, node["type"], node.get("headers") or {})
        props["inputs"] = [_value(name, value) for name, value in (node.get("inputs") or {}).items()]
        return "serviceTask", props
    if kind == "transform":
        return "task", {"outputs": [{"source": expression_text(v), "target": k} for k, v in node["set"].items()]}
    if kind == "condition":
        return "inclusiveGateway", {}
    if kind == "switch":
        return "exclusiveGateway", {}
    if kind == "delay":
        timer = {"timeDuration": node["duration"]} if "duration" in node else {"timeDate": node["until"]}
        return "intermediateCatchEvent", {"event": {"type": "timer", **timer}}
    if kind == "wait_for_event":
        event = {"type": "message", "messageName": node["message"]}
        if "correlation" in node:
            event["correlationKey"] = node["correlation"]
        return "intermediateCatchEvent", {"event": event}
    if kind == "user_task":
        props = {"camundaUserTask": True, "headers": {}}
        for key, attr in (("assignee", "assignee"), ("candidate_groups", "candidateGroups"),
                          ("candidate_users", "candidateUsers"), ("due_date", "dueDate"), ("form_id", "formId"),
                          ("priority", "priority")):
            if key in node:
                value = node[key]
                props[attr] = ",".join(value) if isinstance(value, list) else str(value)
        return "userTask", props
    if kind == "subflow":
        props = {"processId": node["flow"], "propagateAllChildVariables": True, "propagateAllParentVariables": True}
        if "version" in node:
            props["version"] = node["version"]  # pinned; else the latest version when the node runs
        if node.get("on_failure") == "continue":
            props["errorOnFailure"] = STEP_FAILED
        return "callActivity", props
    if kind == "fail":
        return "endEvent", _fail_props(node["id"], node.get("code", "FAILED"), node.get("message", ""))
    raise ValueError(f"unknown node kind {kind}")  # pragma: no cover - the schema refuses it first


def _fail_props(node_id: str, code: str, message: str) -> dict[str, Any]:
    outputs = [{"value": {"code": code, "node": node_id, "message": ""}, "target": ERROR_VARIABLE}]
    if message:
        outputs.append(_value(f"{ERROR_VARIABLE}.message", message))
    return {"event": {"type": "terminate"}, "outputs": outputs}


class _Builder:
    def __init__(self) -> None:
        self.elements: dict[str, tuple[str, str, dict[str, Any]]] = {}
        self.flows: dict[str, Flow] = {}

    def element(self, element_id: str, kind: str, name: str = "", props: dict[str, Any] | None = None) -> None:
        self.elements[element_id] = (kind, name, props if props is not None else {})

    def flow(self, source: str, target: str, condition: str | None = None, name: str = "") -> str:
        flow_id = f"flow.{len(self.flows) + 1}"
        self.flows[flow_id] = Flow(id=flow_id, source=source, target=target, name=name, condition=condition)
        return flow_id

    def graph(self, process_id: str, name: str) -> Graph:
        incoming: dict[str, list[str]] = {}
        outgoing: dict[str, list[str]] = {}
        for f in self.flows.values():
            outgoing.setdefault(f.source, []).append(f.id)
            incoming.setdefault(f.target, []).append(f.id)
        elements = {
            eid: Element(id=eid, kind=kind, name=ename, props=props, incoming=tuple(incoming.get(eid, ())),
                         outgoing=tuple(outgoing.get(eid, ())))
            for eid, (kind, ename, props) in self.elements.items()
        }
        return Graph(process_id=process_id, name=name, elements=elements, flows=self.flows)


def compile_flow(doc: dict[str, Any]) -> Graph:
    """The executable graph of a document that `validate` accepted."""
    nodes = {n["id"]: n for n in doc["nodes"]}
    edges = doc.get("edges", [])
    starts = doc.get("start")
    entries = ([starts] if isinstance(starts, str) else list(starts)) if starts else [
        n for n in nodes if not any(e["to"] == n for e in edges)]
    handled = {e["from"] for e in edges if e.get("on") == "failure"}  # nodes with failure edges
    failure_targets = {e["to"] for e in edges if e.get("on") == "failure"}
    edges_all, edges = edges, [e for e in edges if e.get("on") != "failure"]
    upstream: dict[str, list[str]] = {n: [] for n in nodes}
    for e in edges_all:
        upstream[e["to"]].append(e["from"])
    for n in entries:
        upstream[n].append(START)

    def can_fail_on(n: str) -> bool:
        node = nodes.get(n)
        return node is not None and node.get("on_failure") == "continue"

    needs_join = {n for n, ups in upstream.items()
                  if len(ups) >= 2 or n in failure_targets or any(can_fail_on(u) for u in ups)}
    entry = {n: (f"{n}.join" if n in needs_join else n) for n in nodes}
    b = _Builder()
    # The none start (manual, webhook and API starts) and one timer start per enabled schedule trigger.
    starts_ids = [START]
    b.element(START, "startEvent", "start")
    for trigger in doc.get("triggers", []):
        if trigger["kind"] == "schedule" and trigger.get("enabled", True):
            sid = f"trigger.{trigger['id']}"
            # A fixed interval is an ISO 8601 cycle (R/PT15M): the same timer sweep and misfire policies.
            cron = f"R/{trigger['every'].strip()}" if "every" in trigger else trigger["cron"].strip()
            if trigger.get("timezone") and "every" not in trigger:
                cron = f"TZ={trigger['timezone']} {cron}"  # engine/timers/schedule.py reads the zone
            props: dict[str, Any] = {"event": {"type": "timer", "timeCycle": cron}, "interrupting": True,
                                     "misfire": {"policy": "run_once", **(trigger.get("misfire") or {})}}
            if trigger.get("input"):
                props["outputs"] = [{"value": v, "target": k} for k, v in trigger["input"].items()]
            b.element(sid, "startEvent", f"schedule {trigger['id']}", props)
            starts_ids.append(sid)
        elif trigger["kind"] == "event" and "message" in trigger and trigger.get("enabled", True):
            # A message start event: publishing the message (same API as for BPMN) starts a run.
            sid = f"trigger.{trigger['id']}"
            b.element(sid, "startEvent", f"event {trigger['id']}", {
                "event": {"type": "message", "messageName": trigger["message"]}, "interrupting": True})
            starts_ids.append(sid)
    join_upstream: dict[str, dict[str, list[str]]] = {n: {} for n in needs_join}

    def connect(source: str, source_node: str, target_node: str, outcome: str, condition: str | None = None,
                name: str = "") -> str:
        flow_id = b.flow(source, entry[target_node], condition, name)
        if target_node in needs_join:
            join_upstream[target_node][flow_id] = [source_node, outcome]
        return flow_id

    for sid in starts_ids:
        for n in entries:
            connect(sid, START, n, "ok")
    for n, node in nodes.items():
        kind, props = _node_element(node)
        if n in handled and node["kind"] in WORK_KINDS:
            props["errorOnFailure"] = STEP_FAILED
        b.element(n, kind, node.get("name", ""), props)
        out = [e for e in edges if e["from"] == n]
        if node["kind"] == "condition":
            text = expression_text(node["expression"])
            for e in out:
                connect(n, n, e["to"], "ok", text if e["branch"] == "true" else _negate(text), e["branch"])
        elif node["kind"] == "switch":
            default = None
            for e in out:
                flow_id = connect(n, n, e["to"], "ok", None if e.get("default") else expression_text(e["when"]))
                default = flow_id if e.get("default") else default
            if default:
                props["default"] = default
        elif any("when" in e for e in out):
            b.element(f"{n}.out", "inclusiveGateway", "", {"allowNone": True})
            b.flow(n, f"{n}.out")
            for e in out:
                connect(f"{n}.out", n, e["to"], "ok", expression_text(e["when"]) if "when" in e else None)
        else:
            for e in out:
                connect(n, n, e["to"], "ok")
        failure_exits = []
        handlers = [e for e in edges_all if e["from"] == n and e.get("on") == "failure"]
        if (node.get("on_failure") == "continue" or handlers) and node["kind"] in WORK_KINDS:
            b.element(f"{n}.failed", "boundaryEvent", "failed", {
                "event": {"type": "error", "errorCode": None}, "attachedTo": n, "interrupting": True})
            failure_exits.append(f"{n}.failed")
        if "timeout" in node:
            b.element(f"{n}.timeout", "boundaryEvent", "timeout", {
                "event": {"type": "timer", "timeDuration": node["timeout"]}, "attachedTo": n, "interrupting": True})
            if node.get("on_failure") == "continue" or handlers:
                failure_exits.append(f"{n}.timeout")
            else:
                b.element(f"{n}.timed_out", "endEvent", "timed out",
                          _fail_props(n, "TIMEOUT", f"node '{n}' timed out after {node['timeout']}"))
                b.flow(f"{n}.timeout", f"{n}.timed_out")
        for exit_id in failure_exits:
            if handlers:  # the failure goes to the handler nodes only, which it reaches as a success
                for e in handlers:
                    connect(exit_id, n, e["to"], "ok")
            else:
                for e in out:
                    connect(exit_id, n, e["to"], "failed")
    for n in needs_join:
        rule = nodes[n].get("join", "all_success")
        b.element(f"{n}.join", "inclusiveGateway", "", {"joinRule": rule, "upstream": join_upstream[n], "node": n})
        b.flow(f"{n}.join", n)
    return b.graph(doc["id"], doc.get("name", "") or doc["id"])
