"""Job failure/error/update, incident resolution, messages, signals and variables through /v2 (in-process engine)."""

from __future__ import annotations

import json

import pytest

from engine.models import ElementInstance, Incident, Job, ProcessInstance, Variable
from engine.runtime.loop import drain
from tests.api.conftest import api_bpmn, assert_problem, start
from tests.conftest import deploy_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def proof(api):  # type: ignore[no-untyped-def]
    assert deploy_file(api, "proof-order.bpmn", api_bpmn("proof-order.bpmn")).status_code == 200

    def run(order: str) -> str:
        key = start(api, "proof-order", variables={"orderId": order})
        drain()
        return key

    return run


def activate(api) -> dict:  # type: ignore[no-untyped-def]
    jobs = api.post("/v2/jobs/activation", {"type": "proof-charge", "timeout": 60_000, "maxJobsToActivate": 1,
                                            "requestTimeout": -1}, format="json").json()["jobs"]
    assert len(jobs) == 1
    return jobs[0]


def test_fail_with_retries_then_incident_update_and_resolve(api, proof):
    key = proof("A")
    job = activate(api)
    resp = api.post(f"/v2/jobs/{job['jobKey']}/failure", {"retries": 1, "errorMessage": "down", "retryBackOff": 0},
                    format="json")
    assert resp.status_code == 204
    job = activate(api)
    assert job["retries"] == 1
    assert api.post(f"/v2/jobs/{job['jobKey']}/failure", {"retries": 0, "errorMessage": "gone"},
                    format="json").status_code == 204
    drain()
    incident = api.post("/v2/incidents/search", {"filter": {"processInstanceKey": key}}, format="json").json()
    item = incident["items"][0]
    assert item["errorType"] == "JOB_NO_RETRIES" and item["errorMessage"] == "gone" and item["jobKey"] == job["jobKey"]
    assert api.get(f"/v2/process-instances/{key}").json()["hasIncident"] is True
    assert_problem(api.post(f"/v2/incidents/{item['incidentKey']}/resolution", format="json"), 409)
    assert api.patch(f"/v2/jobs/{job['jobKey']}", {"changeset": {"retries": 2}}, format="json").status_code == 204
    assert api.post(f"/v2/incidents/{item['incidentKey']}/resolution", format="json").status_code == 204
    drain()
    assert Incident.objects.get().state == "RESOLVED"
    assert activate(api)["jobKey"] == job["jobKey"]
    searched = api.post("/v2/jobs/search", {"filter": {"processInstanceKey": key}}, format="json").json()["items"]
    assert searched[0]["errorMessage"] == "gone" and searched[0]["retries"] == 2


def test_throw_error_caught_by_boundary(api, proof):
    key = proof("B")
    job = activate(api)
    assert api.post(f"/v2/jobs/{job['jobKey']}/error", {"errorCode": "CARD_DECLINED", "errorMessage": "no"},
                    format="json").status_code == 204
    drain()
    assert ProcessInstance.objects.get(key=int(key)).state == "COMPLETED"
    assert ElementInstance.objects.filter(element_id="End_Declined").exists()
    assert_problem(api.post(f"/v2/jobs/{job['jobKey']}/error", {"errorCode": "X"}, format="json"), 409)


def test_update_job_timeout(api, proof):
    proof("A")
    job = activate(api)
    assert api.patch(f"/v2/jobs/{job['jobKey']}", {"changeset": {"timeout": 120_000}}, format="json").status_code == 204
    assert Job.objects.get().deadline.timestamp() * 1000 > job["deadline"]
    assert_problem(api.patch(f"/v2/jobs/{job['jobKey']}", {"changeset": {"priority": 5}}, format="json"), 400)


def _to_message(api, key: str) -> None:  # type: ignore[no-untyped-def]
    job = activate(api)
    api.post(f"/v2/jobs/{job['jobKey']}/completion", format="json")
    drain()
    task = api.post("/v2/user-tasks/search", {"filter": {"processInstanceKey": key}}, format="json").json()["items"][0]
    api.post(f"/v2/user-tasks/{task['userTaskKey']}/completion", format="json")
    drain()
    assert ElementInstance.objects.filter(element_id="Wait_Shipped", state="ACTIVE").exists()


def test_publish_and_correlate_messages(api, proof):
    key = proof("A")
    _to_message(api, key)
    body = assert_problem(api.post("/v2/messages/correlation", {"name": "order-shipped", "correlationKey": "nope"},
                                   format="json"), 404)
    assert body["title"] == "NOT_FOUND"
    resp = api.post("/v2/messages/correlation", {"name": "order-shipped", "correlationKey": "A",
                                                 "variables": {"carrier": "UPS"}}, format="json")
    assert resp.status_code == 200 and resp.json()["processInstanceKey"] == key
    drain()
    assert ProcessInstance.objects.get(key=int(key)).state == "COMPLETED"
    # publish buffers with a TTL; a later instance waiting for it picks it up
    resp = api.post("/v2/messages/publication", {"name": "order-shipped", "correlationKey": "B", "timeToLive": 60_000,
                                                 "messageId": "m-1"}, format="json")
    assert resp.status_code == 200 and resp.json()["tenantId"] == "<default>"
    assert_problem(api.post("/v2/messages/publication", {"name": "order-shipped", "correlationKey": "B",
                                                         "messageId": "m-1", "timeToLive": 1000}, format="json"), 409)
    other = proof("B")
    job = activate(api)
    api.post(f"/v2/jobs/{job['jobKey']}/completion", format="json")
    drain()
    task = api.post("/v2/user-tasks/search", {"filter": {"processInstanceKey": other}}, format="json").json()
    api.post(f"/v2/user-tasks/{task['items'][0]['userTaskKey']}/completion", format="json")
    drain()
    drain()
    assert ProcessInstance.objects.get(key=int(other)).state == "COMPLETED"


def test_broadcast_signal(api):
    resp = api.post("/v2/signals/broadcast", {"signalName": "nothing-listens"}, format="json")
    assert resp.status_code == 200 and resp.json()["signalKey"].isdigit()


def test_set_variables_local_and_propagated(api, proof):
    key = proof("A")
    task = ElementInstance.objects.get(element_id="Task_Charge")
    url = f"/v2/element-instances/{task.key}/variables"
    assert api.put(url, {"variables": {"note": "local"}, "local": True}, format="json").status_code == 204
    assert api.put(url, {"variables": {"orderId": "A2"}}, format="json").status_code == 204
    drain()
    values = {(v.scope_key, v.name): v.value for v in Variable.objects.filter(process_instance_id=int(key))}
    assert values[(task.key, "note")] == "local" and values[(int(key), "orderId")] == "A2"
    assert json.loads(api.post("/v2/variables/search", {"filter": {"scopeKey": str(task.key)}},
                               format="json").json()["items"][0]["value"]) == "local"
    ended = ElementInstance.objects.get(element_id="Start")
    assert_problem(api.put(f"/v2/element-instances/{ended.key}/variables", {"variables": {"x": 1}}, format="json"),
                   409)
