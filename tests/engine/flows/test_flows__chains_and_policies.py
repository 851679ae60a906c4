"""Fixed-interval schedules, which errors retry, expected statuses, step logs, pinned subflows, chained flows
(exactly once even when the engine retries the batch) and deactivating a whole flow."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.actions.flows import set_flow_active
from engine.actions.instances import start_instance
from engine.errors import Conflict
from engine.flows.validate import validate
from engine.models import Event, FlowTrigger, Incident, Job, ProcessDefinition, ProcessInstance, StepLog, Timer
from engine.runtime import extra_rows
from engine.runtime.loop import drain
from engine.store import retention
from engine.timers.firing import fire_due_timers

pytestmark = pytest.mark.django_db

FAST = {"initial": "PT0S", "multiplier": 1, "max": "PT0S"}


def _doc(nodes, edges=(), **extra):
    return {"id": extra.pop("id", "f"), "nodes": list(nodes), "edges": list(edges), **extra}


def _stamp(fid: str = "f", **extra):
    return _doc([{"id": "a", "kind": "transform", "set": {"x": "1"}}], id=fid, **extra)


# -- fixed-interval schedules --------------------------------------------------------------------------


@pytest.mark.parametrize(("misfire", "runs"), [
    (None, 1), ({"policy": "skip"}, 0), ({"policy": "catch_up", "cap": 4}, 4),
])
def test_interval_schedule_fires_each_interval_and_misfire_policies_apply(flows, misfire, runs):
    trigger = {"id": "every", "kind": "schedule", "every": "PT10M", "input": {"from": "interval"}}
    if misfire:
        trigger["misfire"] = misfire
    flows.deploy(_stamp(triggers=[trigger]))
    timer = Timer.objects.get(element_id="trigger.every", state="ACTIVE")
    assert timer.spec == "R/PT10M" and timer.due_at == flows.now + timedelta(minutes=10)
    later = timer.due_at + timedelta(hours=1, minutes=1)  # six intervals missed while nothing ran
    for _ in range(10):
        fire_due_timers(later)
    assert ProcessInstance.objects.count() == runs
    timer.refresh_from_db()
    assert later < timer.due_at <= later + timedelta(minutes=10)


def test_interval_schedule_on_time_runs_once_per_tick(flows):
    flows.deploy(_stamp(triggers=[{"id": "every", "kind": "schedule", "every": "PT1M"}]))
    timer = Timer.objects.get(element_id="trigger.every", state="ACTIVE")
    for tick in range(1, 4):
        due = Timer.objects.get(key=timer.key).due_at
        assert fire_due_timers(due) >= 1
        fire_due_timers(due)  # a second sweep at the same moment finds nothing due
        assert ProcessInstance.objects.count() == tick
    drain()
    assert set(ProcessInstance.objects.values_list("state", flat=True)) == {"COMPLETED"}


def test_interval_and_cron_are_exclusive_and_checked(flows):
    both = _stamp(triggers=[{"id": "t", "kind": "schedule", "every": "PT1M", "cron": "* * * * *"}])
    assert [p.pointer for p in validate(both)] == ["/triggers/0"]
    bad = _stamp(triggers=[{"id": "t", "kind": "schedule", "every": "ten minutes"}])
    assert [p.pointer for p in validate(bad)] == ["/triggers/0/every"]


# -- which errors retry, expected statuses, step logs ---------------------------------------------------


def test_retry_on_5xx_does_not_retry_a_404(flows, flaky):
    retry = {"max_attempts": 4, "on": ["5xx", "timeout"], "backoff": FAST}
    key = flows.run(_doc([{"id": "call", "kind": "http", "url": f"{flaky.url}/status/404/nf", "retry": retry}]))
    assert flaky.calls["nf"] == 1  # not retried
    incident = Incident.objects.get(process_instance_key=key)
    assert "retry.on does not list 404" in incident.error_message
    key = flows.run(_doc([{"id": "call", "kind": "http", "url": f"{flaky.url}/fail/2/five", "retry": retry}],
                         id="g"))
    assert flaky.calls["five"] == 3 and flows.state(key) == "COMPLETED"  # 500s retried


def test_expected_statuses_make_a_404_a_success_and_a_200_a_failure(flows, flaky):
    key = flows.run(_doc([{"id": "call", "kind": "http", "url": f"{flaky.url}/status/404/a",
                           "expected_statuses": [200, 404]}]))
    assert flows.state(key) == "COMPLETED" and flows.variables(key)["call"]["status"] == 404
    key = flows.run(_doc([{"id": "call", "kind": "http", "url": f"{flaky.url}/status/200/b",
                           "expected_statuses": ["4xx"], "retry": {"max_attempts": 1}}], id="g"))
    assert "not one of the node's expected statuses" in Incident.objects.get(process_instance_key=key).error_message


def test_each_attempt_keeps_what_was_sent_and_got_with_secrets_masked(flows, flaky):
    key = flows.run(_doc([{
        "id": "call", "kind": "http", "method": "POST", "url": f"{flaky.url}/fail/1/logged",
        "query": {"api_key": "q-secret", "page": "2"},
        "headers": {"Authorization": "Bearer s3cr3t-token", "X-Trace": "t-1"},
        "body": {"password": "hunter2", "order": "A-1"}, "retry": {"max_attempts": 2, "backoff": FAST}}]))
    assert flows.state(key) == "COMPLETED"
    logs = {log.attempt: log.lines for log in StepLog.objects.filter(process_instance_key=key)}
    assert sorted(logs) == [1, 2]
    text = "\n".join(logs[1] + logs[2])
    for secret in ("s3cr3t-token", "hunter2", "q-secret"):
        assert secret not in text
    assert logs[1][0].startswith("-> POST http://127.0.0.1") and "X-Trace" in text and '"order":"A-1"' in text
    assert any(line.startswith("<- 500") for line in logs[1])
    assert any(line.startswith("<- 200") for line in logs[2]) and any('"calls":2' in line for line in logs[2])


def test_step_logs_go_with_their_run_when_history_expires(flows, flaky):
    key = flows.run(_doc([{"id": "call", "kind": "http", "url": f"{flaky.url}/fail/0/kept"}]))
    assert StepLog.objects.filter(process_instance_key=key).count() == 1
    ProcessInstance.objects.filter(key=key).update(end_date=flows.now - timedelta(days=400))
    assert retention.cleanup(flows.now).instances == 1
    assert not StepLog.objects.filter(process_instance_key=key).exists()


def test_output_mappings_keep_only_the_mapped_variables(flows, flaky):
    flows.deploy(_doc([{"id": "c", "kind": "transform", "set": {"inner": "21", "noise": "1"}}], id="child"))
    key = flows.run(_doc([
        {"id": "call", "kind": "http", "url": f"{flaky.url}/fail/0/out", "output": {"calls": "call.body.calls"}},
        {"id": "sub", "kind": "subflow", "flow": "child", "output": {"doubled": "inner * 2"}},
    ], [{"from": "call", "to": "sub"}]))
    variables = flows.variables(key)
    assert variables["calls"] == 1 and variables["doubled"] == 42
    assert "call" not in variables and "noise" not in variables and "inner" not in variables
    bad = _doc([{"id": "call", "kind": "http", "url": "http://x", "output": {"a": "call.body +"}}])
    assert [p.pointer for p in validate(bad)] == ["/nodes/0/output/a"]


# -- subflows by pinned version -------------------------------------------------------------------------


def test_subflow_pinned_to_a_version_runs_that_version(flows):
    flows.deploy(_doc([{"id": "c", "kind": "transform", "set": {"made_by": "'v1'"}}], id="child"))
    flows.deploy(_doc([{"id": "c", "kind": "transform", "set": {"made_by": "'v2'"}}], id="child"))
    pinned = flows.run(_doc([{"id": "call", "kind": "subflow", "flow": "child", "version": 1}], id="p1"))
    latest = flows.run(_doc([{"id": "call", "kind": "subflow", "flow": "child"}], id="p2"))
    assert flows.variables(pinned)["made_by"] == "v1" and flows.variables(latest)["made_by"] == "v2"
    missing = flows.run(_doc([{"id": "call", "kind": "subflow", "flow": "child", "version": 9}], id="p3"))
    assert "version 9" in Incident.objects.get(process_instance_key=missing).error_message


# -- chained flows ---------------------------------------------------------------------------------------

SOURCE = _doc([
    {"id": "route", "kind": "switch"},
    {"id": "ok", "kind": "transform", "set": {"total": "amount * 2"}},
    {"id": "boom", "kind": "fail", "code": "TOO_BIG"},
], [{"from": "route", "to": "ok", "when": "amount < 100"}, {"from": "route", "to": "boom", "default": True}],
    id="orders")


def _follower(fid: str, on: list[str], **extra):
    return _doc([{"id": "note", "kind": "transform", "set": {"noted": "true"}}], id=fid, triggers=[
        {"id": "after", "kind": "event", "after": {"flow": "orders", "on": on}, **extra}])


def _runs_of(flow_id: str) -> list[ProcessInstance]:
    return list(ProcessInstance.objects.filter(definition__bpmn_process_id=flow_id).order_by("key"))


def test_a_completed_run_starts_its_follower_with_a_filter_and_input_mapping(flows):
    flows.deploy(_follower("on_done", ["completed"], filter="variables.total > 10",
                           input={"orderTotal": "variables.total", "source": "executionId"}))
    flows.deploy(_follower("on_fail", ["failed"]))
    flows.deploy(SOURCE)
    small = flows.run(SOURCE, amount=2)  # total 4: filtered out
    big = flows.run(SOURCE, amount=30)
    failed = flows.run(SOURCE, amount=500)
    flows.settle()
    [done] = _runs_of("on_done")
    assert flows.variables(done.key) == {"orderTotal": 60, "source": str(big), "noted": True}
    [after_fail] = _runs_of("on_fail")
    assert flows.variables(after_fail.key)["flowError"]["code"] == "TOO_BIG"  # default input: its variables
    assert done.state == after_fail.state == "COMPLETED"
    chained = [r for ev in Event.objects.filter(process_instance_key__in=[small, big, failed]) for r in ev.records
               if r["intent"] == "FLOW_CHAINED"]
    assert sorted(r["flow"] for r in chained) == ["on_done", "on_fail"]


def test_a_chained_run_is_started_once_even_when_the_engine_retries_the_batch(flows, monkeypatch):
    flows.deploy(_follower("on_done", ["completed"]))
    definition = flows.deploy(SOURCE)
    start_instance(flows.tenant, definition, {"amount": 1}, "test", flows.now)
    real = extra_rows.flush
    crashed = []

    def flush_then_die(runs, replay):  # the chained run's rows are written, then the batch dies
        real(runs, replay)
        if any(pi.definition_id != definition.key for run in runs for pi in run.spawned) and not crashed:
            crashed.append(True)
            raise SystemExit("worker killed mid-batch")

    monkeypatch.setattr(extra_rows, "flush", flush_then_die)
    with pytest.raises(SystemExit):
        drain()
    assert crashed and not _runs_of("on_done")  # rolled back with the batch
    drain()
    flows.settle()
    assert len(_runs_of("on_done")) == 1 and _runs_of("on_done")[0].state == "COMPLETED"
    drain()
    assert len(_runs_of("on_done")) == 1


def test_an_input_that_does_not_match_the_followers_schema_is_recorded_not_run(flows):
    follower = _follower("strict", ["completed"])
    follower["inputs"] = {"type": "object", "required": ["customer"]}
    flows.deploy(follower)
    key = flows.run(SOURCE, amount=1)
    assert not _runs_of("strict")
    [refused] = [r for ev in Event.objects.filter(process_instance_key=key) for r in ev.records
                 if r["intent"] == "FLOW_CHAIN_REFUSED"]
    assert "customer" in refused["reason"]


# -- deactivating a whole flow ---------------------------------------------------------------------------


def test_deactivating_a_flow_stops_every_version_and_trigger_and_activating_restores_them(flows):
    doc = _stamp(triggers=[{"id": "tick", "kind": "schedule", "every": "PT5M"}, {"id": "hook", "kind": "webhook"},
                           {"id": "off", "kind": "webhook", "enabled": False}])
    flows.deploy(doc)
    doc["nodes"][0]["set"] = {"x": "2"}
    flows.deploy(doc)
    assert set_flow_active([flows.tenant.pk], "f", False, "op", flows.now) == 2
    assert set(ProcessDefinition.objects.values_list("deactivated", flat=True)) == {True}
    assert not FlowTrigger.objects.filter(enabled=True).exists()
    assert not Timer.objects.filter(element_id="trigger.tick", state="ACTIVE").exists()
    with pytest.raises(Conflict):
        flows.run(doc)
    assert set_flow_active([flows.tenant.pk], "f", False, "op", flows.now) == 0  # already so
    set_flow_active([flows.tenant.pk], "f", True, "op", flows.now)
    assert dict(FlowTrigger.objects.values_list("trigger_id", "enabled")) == {"tick": True, "hook": True,
                                                                             "off": False}
    assert Timer.objects.filter(element_id="trigger.tick", state="ACTIVE").count() == 1
    assert Job.objects.count() == 0
