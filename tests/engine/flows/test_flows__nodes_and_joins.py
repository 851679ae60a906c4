"""Each node kind and join rule, run on the engine from a deployed flow document."""

from __future__ import annotations

import pytest

from engine.flows.validate import validate
from engine.models import Job, Timer, UserTask

pytestmark = pytest.mark.django_db


def _doc(nodes, edges=(), **extra):
    return {"id": extra.pop("id", "f"), "nodes": list(nodes), "edges": list(edges), **extra}


def test_transform_computes_variables_with_cel_and_feel(flows):
    key = flows.run(_doc([
        {"id": "calc", "kind": "transform", "set": {"total": "price * qty", "label": "=upper case(name)"}},
    ]), price=3, qty=4, name="box")
    assert flows.state(key) == "COMPLETED"
    assert flows.variables(key)["total"] == 12 and flows.variables(key)["label"] == "BOX"


def test_condition_takes_one_branch_and_the_other_is_skipped(flows):
    doc = _doc([
        {"id": "check", "kind": "condition", "expression": "amount > 100"},
        {"id": "big", "kind": "transform", "set": {"size": "'big'"}},
        {"id": "small", "kind": "transform", "set": {"size": "'small'"}},
    ], [{"from": "check", "to": "big", "branch": "true"}, {"from": "check", "to": "small", "branch": "false"}])
    key = flows.run(doc, amount=500)
    assert flows.state(key) == "COMPLETED" and flows.ran(key) == {"check", "big"}
    key = flows.run(doc, amount=5)
    assert flows.ran(key) == {"check", "small"} and flows.variables(key)["size"] == "small"


def test_switch_takes_the_first_matching_edge_else_the_default(flows):
    doc = _doc([
        {"id": "route", "kind": "switch"},
        {"id": "eu", "kind": "transform", "set": {"r": "'eu'"}},
        {"id": "us", "kind": "transform", "set": {"r": "'us'"}},
        {"id": "other", "kind": "transform", "set": {"r": "'other'"}},
    ], [{"from": "route", "to": "eu", "when": "region == 'eu'"},
        {"from": "route", "to": "us", "when": "=region = \"us\""},
        {"from": "route", "to": "other", "default": True}])
    assert flows.variables(flows.run(doc, region="us"))["r"] == "us"
    assert flows.variables(flows.run(doc, region="eu"))["r"] == "eu"
    assert flows.variables(flows.run(doc, region="jp"))["r"] == "other"


def test_guarded_edges_that_all_fail_skip_their_targets_without_an_incident(flows):
    doc = _doc([
        {"id": "a", "kind": "transform", "set": {"x": "1"}},
        {"id": "b", "kind": "transform", "set": {"y": "2"}},
    ], [{"from": "a", "to": "b", "when": "flag"}])
    key = flows.run(doc, flag=False)
    assert flows.state(key) == "COMPLETED" and flows.ran(key) == {"a"} and not flows.incidents(key)
    assert flows.ran(flows.run(doc, flag=True)) == {"a", "b"}


def _branches(join: str):
    return _doc([
        {"id": "check", "kind": "condition", "expression": "go"},
        {"id": "left", "kind": "transform", "set": {"l": "1"}},
        {"id": "right", "kind": "transform", "set": {"r": "1"}},
        {"id": "parallel", "kind": "transform", "set": {"p": "1"}},
        {"id": "merge", "kind": "transform", "set": {"merged": "true"}, "join": join},
    ], [{"from": "check", "to": "left", "branch": "true"}, {"from": "check", "to": "right", "branch": "false"},
        {"from": "left", "to": "merge"}, {"from": "parallel", "to": "merge"}, {"from": "right", "to": "merge"}],
        id=f"join_{join}")


@pytest.mark.parametrize(("join", "runs"), [
    ("none_failed", True), ("one_success", True), ("all_done", True),
])
def test_join_rules_after_a_skipped_branch(flows, join, runs):
    key = flows.run(_branches(join), go=True)
    assert flows.state(key) == "COMPLETED"
    assert ("merge" in flows.ran(key)) is runs
    assert flows.ran(key) >= {"check", "left", "parallel"} and "right" not in flows.ran(key)


def test_all_success_join_is_skipped_when_an_upstream_was_skipped(flows):
    # all_success over both branches of one condition is refused at deploy time, so the skip comes
    # from a guarded edge here.
    doc = _doc([
        {"id": "a", "kind": "transform", "set": {"x": "1"}},
        {"id": "b", "kind": "transform", "set": {"y": "1"}},
        {"id": "c", "kind": "transform", "set": {"z": "1"}},
        {"id": "after", "kind": "transform", "set": {"w": "1"}},
    ], [{"from": "a", "to": "c", "when": "false"}, {"from": "b", "to": "c"}, {"from": "c", "to": "after"}])
    key = flows.run(doc)
    assert flows.state(key) == "COMPLETED"
    assert flows.ran(key) == {"a", "b"} and flows.skipped(key) == {"c"}


def test_failed_upstream_with_continue_runs_none_failed_no_more_but_all_done_yes(flows, flaky):
    def doc(join):
        return _doc([
            {"id": "call", "kind": "http", "url": f"{flaky.url}/fail/99/{join}", "on_failure": "continue",
             "retry": {"max_attempts": 1}},
            {"id": "other", "kind": "transform", "set": {"o": "1"}},
            {"id": "end", "kind": "transform", "set": {"done": "true"}, "join": join},
        ], [{"from": "call", "to": "end"}, {"from": "other", "to": "end"}], id=f"cont_{join}")
    for join, runs in (("all_done", True), ("none_failed", False), ("one_success", True), ("all_success", False)):
        key = flows.run(doc(join))
        assert flows.state(key) == "COMPLETED", join
        assert ("end" in flows.ran(key)) is runs, join
        assert not flows.incidents(key)


def test_http_node_that_fails_twice_then_succeeds_shows_three_attempts(flows, flaky):
    doc = _doc([{"id": "fetch", "kind": "http", "url": f"{flaky.url}/fail/2/fetch",
                 "retry": {"max_attempts": 3, "backoff": {"initial": "PT0S", "multiplier": 1, "max": "PT0S"}}}])
    key = flows.run(doc)
    assert flows.state(key) == "COMPLETED", flows.incidents(key)
    job = Job.objects.get(process_instance_key=key)
    assert len(job.attempts) == 2 and all("500" in a["error"] for a in job.attempts)
    assert flows.variables(key)["fetch"]["status"] == 200 and flaky.calls["fetch"] == 3


def test_http_node_sends_an_idempotency_key_per_attempt(flows, flaky):
    key = flows.run(_doc([{"id": "post", "kind": "http", "url": f"{flaky.url}/fail/1/idem",
                           "idempotency_header": "Idempotency-Key",
                           "retry": {"max_attempts": 3, "backoff": {"initial": "PT0S", "max": "PT0S"}}}]))
    assert flows.state(key) == "COMPLETED"
    job = Job.objects.get(process_instance_key=key)
    assert flaky.keys["idem"] == [f"{job.key}-3", f"{job.key}-2"]


def test_job_node_is_an_ordinary_job_with_its_inputs(flows):
    key = flows.run(_doc([{"id": "pay", "kind": "job", "type": "payment", "inputs": {"amount": "=total * 2"}}]),
                    total=5)
    job = Job.objects.get(process_instance_key=key)
    assert job.type == "payment" and job.retries == 3 and job.state == "ACTIVATABLE"


def test_user_task_node_opens_a_task_for_the_group(flows):
    key = flows.run(_doc([{"id": "review", "kind": "user_task", "candidate_groups": ["sales"]}]))
    task = UserTask.objects.get(process_instance_key=key)
    assert task.element_id == "review"


def test_fail_node_ends_the_run_with_its_code(flows):
    key = flows.run(_doc([
        {"id": "a", "kind": "transform", "set": {"x": "1"}},
        {"id": "stop", "kind": "fail", "code": "NO_STOCK", "message": "=\"out of \" + item"},
    ], [{"from": "a", "to": "stop"}]), item="pens")
    assert flows.state(key) == "COMPLETED"
    assert flows.variables(key)["flowError"] == {"code": "NO_STOCK", "node": "stop", "message": "out of pens"}


def test_delay_waits_for_its_timer(flows):
    key = flows.run(_doc([{"id": "wait", "kind": "delay", "duration": "PT5M"}]))
    timer = Timer.objects.get(process_instance_key=key)
    assert flows.state(key) == "ACTIVE" and (timer.due_at - flows.now).total_seconds() == 300


def test_failure_edge_leads_to_a_handler_and_the_success_path_is_skipped(flows, flaky):
    def doc(fails: int):
        return _doc([
            {"id": "call", "kind": "http", "url": f"{flaky.url}/fail/{fails}/h{fails}",
             "retry": {"max_attempts": 2, "backoff": {"initial": "PT0S", "max": "PT0S"}}},
            {"id": "use", "kind": "transform", "set": {"used": "true"}},
            {"id": "handle", "kind": "transform", "set": {"handled": "true"}},
        ], [{"from": "call", "to": "use"}, {"from": "call", "to": "handle", "on": "failure"}], id=f"h{fails}")
    key = flows.run(doc(5))
    assert flows.state(key) == "COMPLETED" and flows.ran(key) == {"handle"} and not flows.incidents(key)
    key = flows.run(doc(1))
    assert flows.state(key) == "COMPLETED" and flows.ran(key) == {"call", "use"}


def test_failure_edges_are_refused_where_nothing_can_fail(flows):
    problems = validate(_doc([{"id": "a", "kind": "transform", "set": {"x": "1"}},
                              {"id": "b", "kind": "transform", "set": {"x": "1"}}],
                             [{"from": "a", "to": "b", "on": "failure"}]))
    assert [p.pointer for p in problems] == ["/edges/0/on"]
