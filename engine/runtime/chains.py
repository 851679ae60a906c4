"""Flows chained without code: an `event` trigger with `after: {flow, on}` starts a run of its flow when a
run of another flow or BPMN process ends (`completed`; `failed`: a flow run ended by a `fail` node or a
timeout, i.e. with `flowError`; `canceled`).

Exactly once: the chained run's row and its CREATE_INSTANCE command are written with the ending run's
own batch (run.spawned / run.send, like a call activity's child), so a batch the engine retries or a
worker that dies mid-batch rolls them back together with the end; the next attempt decides afresh.

The event triggers are read per tenant at most once a second (CACHE_SECONDS): an instance whose process
nobody watches costs nothing. A trigger deployed or disabled takes effect within that second.
"""

from __future__ import annotations

import json
import time
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from engine import expressions
from engine.flows.compile import ERROR_VARIABLE
from engine.flows.validate import expression_text
from engine.models import Command, FlowTrigger, ProcessDefinition, ProcessInstance
from engine.runtime.state import InstanceRun

CACHE_SECONDS = 1.0
_watchers: dict[int, tuple[float, dict[str, list[tuple[str, str, dict[str, Any]]]]]] = {}


def _watching(tenant_id: int) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    """Watched process id → [(flow id, trigger id, trigger config)] of the tenant's enabled chain triggers."""
    found = _watchers.get(tenant_id)
    if found is not None and found[0] > time.monotonic():
        return found[1]
    watched: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for flow_id, trigger_id, config in FlowTrigger.objects.filter(
            tenant_id=tenant_id, kind=FlowTrigger.Kind.EVENT, enabled=True, config__has_key="after"
    ).values_list("flow_id", "trigger_id", "config"):
        watched.setdefault(config["after"]["flow"], []).append((flow_id, trigger_id, config))
    _watchers[tenant_id] = (time.monotonic() + CACHE_SECONDS, watched)
    return watched


def forget() -> None:
    """Drop the cached triggers (tests, and a deploy in the same process)."""
    _watchers.clear()


def _evaluate(text: str, variables: dict[str, Any], run: InstanceRun) -> Any:
    source = expression_text(text)
    compiled = expressions.compile_feel(source) if source.startswith("=") else expressions.compile_cel(source)
    return compiled.evaluate(variables, now=run.now)


def _refused(schema: Any, value: dict[str, Any]) -> str:
    if not schema:
        return ""
    try:
        error = next(iter(Draft202012Validator(schema).iter_errors(value)), None)
    except SchemaError as exc:
        return f"the flow's inputs schema is not valid: {exc.message}"
    if error is None:
        return ""
    where = "/" + "/".join(str(p) for p in error.absolute_path)
    return f"the input does not match the flow's inputs schema at {where}: {error.message}"


def chain_runs(run: InstanceRun, state: str) -> None:
    """Called as an instance ends: start the runs whose event triggers watch its process and outcome."""
    if run.keys.replaying:
        return  # a timeline replay re-derives state; the chained runs were written when the batch first ran
    watchers = _watching(run.tenant_id).get(run.graph.process_id)
    if not watchers:
        return
    variables = {name: var.value for name, var in run.variables.get(run.instance.key, {}).items()}
    if state == ProcessInstance.State.TERMINATED:
        status = "canceled"
    else:
        status = "failed" if isinstance(variables.get(ERROR_VARIABLE), dict) else "completed"
    context = {"flow": run.graph.process_id, "version": run.definition.version, "status": status,
               "executionId": str(run.instance.key), "variables": variables}
    for flow_id, trigger_id, config in watchers:
        if status not in config["after"].get("on", ["completed"]):
            continue
        target = (ProcessDefinition.objects.filter(tenant_id=run.tenant_id, bpmn_process_id=flow_id,
                                                   kind=ProcessDefinition.Kind.DAG, created_at__lte=run.now)
                  .order_by("-version").only("key", "version", "deactivated", "source").first())
        if target is None or target.deactivated:
            continue
        try:
            if "filter" in config and _evaluate(config["filter"], context, run) is not True:
                continue
            value = ({name: _evaluate(text, context, run) for name, text in config["input"].items()}
                     if config.get("input") else variables)
        except (expressions.EvaluationError, expressions.ExpressionError) as exc:
            run.record("FLOW_CHAIN_REFUSED", flow=flow_id, trigger=trigger_id, reason=str(exc)[:500])
            continue
        refused = _refused(json.loads(target.source).get("inputs"), value)
        if refused:
            run.record("FLOW_CHAIN_REFUSED", flow=flow_id, trigger=trigger_id, reason=refused[:500])
            continue
        key = run.keys.take()
        run.spawned.append(ProcessInstance(
            key=key, tenant_id=run.tenant_id, definition_id=target.key, business_key="",
            state=ProcessInstance.State.ACTIVE, start_date=run.now, root_instance_key=key))
        run.send(key, Command.Kind.CREATE_INSTANCE, {"variables": value, "chain": {
            "trigger": trigger_id, "flow": run.graph.process_id, "executionId": str(run.instance.key),
            "status": status}})
        run.record("FLOW_CHAINED", flow=flow_id, trigger=trigger_id, executionId=str(key))
