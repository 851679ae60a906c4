"""Runs of a flow over the native API: manual start with checked input, the execution and its steps."""

from __future__ import annotations

import json

import pytest

from engine.connectors.runner import run_connectors
from engine.runtime.loop import drain
from tests.api.conftest import assert_problem
from tests.engine.flows.conftest import FlakyServer

pytestmark = pytest.mark.django_db

ORDER = {
    "id": "order_check",
    "name": "Order check",
    "inputs": {"type": "object", "required": ["orderId"], "properties": {"orderId": {"type": "string"}}},
    "nodes": [
        {"id": "fetch", "kind": "http", "url": "=base + \"/fail/2/\" + orderId",
         "retry": {"max_attempts": 3, "backoff": {"initial": "PT0S", "max": "PT0S"}}},
        {"id": "ok", "kind": "condition", "expression": "fetch.body.ok"},
        {"id": "done", "kind": "transform", "set": {"label": "'fine'"}},
        {"id": "broken", "kind": "fail", "code": "NOT_OK"},
    ],
    "edges": [{"from": "fetch", "to": "ok"}, {"from": "ok", "to": "done", "branch": "true"},
              {"from": "ok", "to": "broken", "branch": "false"}],
    "output": {"label": "label", "calls": "fetch.body.calls"},
}


@pytest.fixture
def flaky(settings):
    settings.CONNECTOR_HTTP_ALLOW = "127.0.0.1"
    server = FlakyServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def _settle(tenant) -> None:
    drain()
    while run_connectors([tenant.pk]):
        drain()


def test_manual_run_shows_the_execution_and_three_attempts_of_the_flaky_step(api, creds, flaky):
    assert api.post("/api/flows/", ORDER, format="json").status_code == 201
    resp = api.post("/api/flows/order_check/runs", {"input": {"orderId": "A1", "base": flaky.url}}, format="json")
    assert resp.status_code == 201, resp.content
    run_id = resp.json()["id"]
    _settle(creds.tenant)
    execution = api.get(f"/api/flows/executions/{run_id}").json()
    assert execution["status"] == "succeeded", execution
    assert execution["flow"] == "order_check" and execution["version"] == 1
    assert execution["input"] == {"orderId": "A1", "base": flaky.url}
    assert execution["output"] == {"label": "fine", "calls": 3}
    assert execution["trigger"]["kind"] == "manual" and execution["startedAt"] and execution["endedAt"]
    steps = {s["node"]: s for s in api.get(f"/api/flows/executions/{run_id}/steps").json()["items"]}
    assert {n: s["status"] for n, s in steps.items()} == {
        "fetch": "succeeded", "ok": "succeeded", "done": "succeeded", "broken": "skipped"}
    attempts = steps["fetch"]["attempts"]
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert "500" in attempts[0]["error"] and "500" in attempts[1]["error"] and attempts[2]["error"] is None
    assert steps["fetch"]["result"]["status"] == 200
    assert steps["done"]["result"] == {"label": "fine"}


def test_fail_node_makes_the_run_failed_with_its_code(api, creds, flaky):
    api.post("/api/flows/", ORDER, format="json")
    flaky.calls["B2"] = -100  # always 500 → retries run out → incident
    run_id = api.post("/api/flows/order_check/runs", {"input": {"orderId": "B2", "base": flaky.url}},
                      format="json").json()["id"]
    _settle(creds.tenant)
    execution = api.get(f"/api/flows/executions/{run_id}").json()
    assert execution["status"] == "failed" and execution["error"]["node"] == "fetch"
    steps = {s["node"]: s for s in api.get(f"/api/flows/executions/{run_id}/steps").json()["items"]}
    assert steps["fetch"]["status"] == "failed" and len(steps["fetch"]["attempts"]) == 3
    assert steps["ok"]["status"] == "pending"


def test_input_is_checked_against_the_inputs_schema(api):
    api.post("/api/flows/", ORDER, format="json")
    body = assert_problem(api.post("/api/flows/order_check/runs", {"input": {"orderId": 7}}, format="json"), 422)
    assert body["problems"] == [{"pointer": "/orderId", "message": "7 is not of type 'string'"}]
    assert_problem(api.post("/api/flows/order_check/runs", {"input": []}, format="json"), 422)
    assert_problem(api.post("/api/flows/order_check/runs", {"inputs": {}}, format="json"), 400)
    assert_problem(api.post("/api/flows/nope/runs", {"input": {}}, format="json"), 404)
    assert_problem(api.get("/api/flows/executions/12x"), 400)
    assert_problem(api.get("/api/flows/executions/123"), 404)


def test_flows_are_listed_and_read_per_tenant(api, other_api):
    api.post("/api/flows/", ORDER, format="json")
    assert [f["id"] for f in api.get("/api/flows/").json()["items"]] == ["order_check"]
    assert other_api.get("/api/flows/").json()["items"] == []
    assert_problem(other_api.get("/api/flows/order_check"), 404)
    got = api.get("/api/flows/order_check").json()
    assert got["version"] == 1 and got["document"]["nodes"][0]["id"] == "fetch"
    assert json.loads(json.dumps(got["document"])) == json.loads(json.dumps(ORDER))


def test_dead_letters_are_listed_replayed_with_edited_input_and_discarded(api, creds, flaky):
    api.post("/api/flows/", ORDER, format="json")
    runs = []
    for order in ("D1", "D2", "D3"):
        flaky.calls[order] = -100  # fails until the input is corrected
        runs.append(api.post("/api/flows/order_check/runs", {"input": {"orderId": order, "base": flaky.url}},
                             format="json").json()["id"])
    _settle(creds.tenant)
    letters = api.get("/api/flows/dead-letters", {"flow": "order_check", "code": "JOB_NO_RETRIES"}).json()["items"]
    assert sorted(d["executionId"] for d in letters) == sorted(runs)
    assert {d["node"] for d in letters} == {"fetch"} and all("500" in d["message"] for d in letters)
    assert api.get("/api/flows/dead-letters", {"code": "OTHER"}).json()["items"] == []

    # Replay the first from its failed step with an edited input: it now succeeds.
    resp = api.post(f"/api/flows/executions/{runs[0]}/replay", {"input": {"orderId": "fixed"}}, format="json")
    assert resp.status_code == 202, resp.content
    _settle(creds.tenant)
    assert api.get(f"/api/flows/executions/{runs[0]}").json()["status"] == "succeeded"
    steps = {s["node"]: s for s in api.get(f"/api/flows/executions/{runs[0]}/steps").json()["items"]}
    assert len(steps["fetch"]["attempts"]) >= 4  # three failed, then the replay's attempts
    # Discard the second; bulk-replay the rest over the filter (still failing: back on the list).
    assert api.post(f"/api/flows/executions/{runs[1]}/discard").status_code == 202
    _settle(creds.tenant)
    assert api.get(f"/api/flows/executions/{runs[1]}").json()["status"] == "canceled"
    replayed = api.post("/api/flows/dead-letters/replay", {"flow": "order_check"}, format="json").json()
    assert replayed == {"replayed": [runs[2]]}
    _settle(creds.tenant)
    assert [d["executionId"] for d in api.get("/api/flows/dead-letters").json()["items"]] == [runs[2]]
    assert_problem(api.post(f"/api/flows/executions/{runs[0]}/replay", {}, format="json"), 404)
    assert_problem(api.post(f"/api/flows/executions/{runs[2]}/replay", {"input": []}, format="json"), 400)
    assert_problem(api.post(f"/api/flows/executions/{runs[2]}/explode", {}, format="json"), 404)


def test_diff_between_versions(api):
    api.post("/api/flows/", ORDER, format="json")
    changed = json.loads(json.dumps(ORDER))
    changed["nodes"][2]["set"] = {"label": "'great'"}
    changed["nodes"].append({"id": "extra", "kind": "transform", "set": {"x": "1"}})
    changed["edges"].append({"from": "done", "to": "extra"})
    changed["output"] = {"label": "label"}
    assert api.post("/api/flows/", changed, format="json").json()["version"] == 2
    diff = api.get("/api/flows/order_check/diff").json()
    assert diff["from"] == 1 and diff["to"] == 2
    assert diff["nodes"] == {"added": ["extra"], "removed": [], "changed": [{"id": "done", "options": ["set"]}]}
    assert diff["edges"] == {"added": ["done → extra"], "removed": [], "changed": []}
    assert diff["other"] == ["output"]
    assert_problem(api.get("/api/flows/order_check/diff", {"from": "9"}), 404)
    assert_problem(api.get("/api/flows/order_check/diff", {"from": "x"}), 400)


def test_retry_on_of_a_job_node_judges_the_error_its_worker_reports(api, creds):
    """`retry.on` of a `job` node: the code a worker fails the job with (`errorCode`, or the first word
    of its message) retries when listed; anything else uses up the node's attempts at once."""
    flow = {"id": "worked", "nodes": [{"id": "work", "kind": "job", "type": "ext-work", "retry": {
        "max_attempts": 3, "on": ["TIMEOUT", "5xx"], "backoff": {"initial": "PT0S", "max": "PT0S"}}}]}
    assert api.post("/api/flows/", flow, format="json").status_code == 201

    def fail_once(failure: dict) -> tuple[str, dict]:
        run_id = api.post("/api/flows/worked/runs", {"input": {}}, format="json").json()["id"]
        drain()
        jobs = api.post("/v2/jobs/activation", {"type": "ext-work", "timeout": 60_000, "maxJobsToActivate": 50,
                                                "requestTimeout": -1}, format="json").json()["jobs"]
        [job] = [j for j in jobs if j["processInstanceKey"] == run_id]  # earlier runs' retried jobs come too
        resp = api.post(f"/v2/jobs/{job['jobKey']}/failure", {"retries": 2, **failure}, format="json")
        assert resp.status_code == 204, resp.content
        drain()
        [step] = api.get(f"/api/flows/executions/{run_id}/steps").json()["items"]
        return api.get(f"/api/flows/executions/{run_id}").json()["status"], step

    for listed in ({"errorMessage": "TIMEOUT: the ledger took too long"}, {"errorMessage": "503 from the ledger"},
                   {"errorCode": "TIMEOUT", "errorMessage": "slow"}):
        status, step = fail_once(listed)
        assert status == "running" and step["status"] == "retrying", (listed, step)
    for unlisted in ({"errorMessage": "BAD_ACCOUNT: no such account"}, {"errorMessage": "404 no such account"},
                     {"errorMessage": "something broke"}, {"errorCode": "BAD_ACCOUNT", "errorMessage": "TIMEOUT?"}):
        status, step = fail_once(unlisted)
        assert status == "failed" and step["status"] == "failed", (unlisted, step)
        assert "not retried: retry.on does not list" in step["attempts"][-1]["error"]
    bad = api.post("/v2/jobs/1/failure", {"retries": 1, "errorCode": "not a code"}, format="json")
    assert_problem(bad, 400)
