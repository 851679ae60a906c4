"""Batch operations in the API (Camunda 8 shapes): cancel the instances a filter finds, resolve their
incidents, read progress, cancel a batch; the run is what the RQ job does (engine/actions/batches.run_batch)."""

from __future__ import annotations

import pytest

from engine.actions.batches import run_batch
from engine.models import Incident, ProcessInstance
from engine.runtime.loop import drain
from tests.api.conftest import assert_problem, start
from tests.conftest import deploy_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(api):  # type: ignore[no-untyped-def]
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    keys = [start(api, variables={"n": i}) for i in range(5)]
    drain()
    return keys


def test_cancel_by_filter_and_read_progress(api, waiting, other_api):  # type: ignore[no-untyped-def]
    resp = api.post("/v2/process-instances/cancellation", {"filter": {"processInstanceKey": {"$in": waiting[:3]}}},
                    format="json")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["batchOperationType"] == "CANCEL_PROCESS_INSTANCE"
    key = body["batchOperationKey"]
    got = api.get(f"/v2/batch-operations/{key}").json()
    assert (got["state"], got["operationsTotalCount"], got["operationsCompletedCount"]) == ("ACTIVE", 3, 0)
    run_batch(int(key))
    drain()
    got = api.get(f"/v2/batch-operations/{key}").json()
    assert (got["state"], got["operationsCompletedCount"], got["operationsFailedCount"]) == ("COMPLETED", 3, 0)
    states = dict(ProcessInstance.objects.filter(key__in=[int(k) for k in waiting]).values_list("key", "state"))
    assert sorted(states.values()) == ["ACTIVE", "ACTIVE", "TERMINATED", "TERMINATED", "TERMINATED"]
    assert_problem(other_api.get(f"/v2/batch-operations/{key}"), 404)
    assert_problem(api.post(f"/v2/batch-operations/{key}/cancellation", {}, format="json"), 409)


def test_resolve_incidents_by_filter(api, waiting):  # type: ignore[no-untyped-def]
    jobs = api.post("/v2/jobs/activation", {"type": "payment", "timeout": 10_000, "maxJobsToActivate": 10},
                    format="json")
    assert jobs.status_code == 200, jobs.content
    for job in jobs.json()["jobs"][:2]:
        assert api.post(f"/v2/jobs/{job['jobKey']}/failure", {"retries": 0}, format="json").status_code == 204
    drain()
    assert Incident.objects.filter(state="ACTIVE").count() == 2
    resp = api.post("/v2/process-instances/incident-resolution", {"filter": {"hasIncident": True}}, format="json")
    assert resp.status_code == 200, resp.content
    run_batch(int(resp.json()["batchOperationKey"]))
    drain()
    assert not Incident.objects.filter(state="ACTIVE").exists()


def test_bad_bodies_and_cancel(api, waiting):  # type: ignore[no-untyped-def]
    assert_problem(api.post("/v2/process-instances/cancellation", {}, format="json"), 400)
    assert_problem(api.post("/v2/process-instances/cancellation", {"filter": {"nope": 1}}, format="json"), 400)
    assert_problem(api.post("/v2/process-instances/cancellation", {"filter": {"processInstanceKey": "1"}},
                            format="json"), 400)  # nothing found
    key = api.post("/v2/process-instances/cancellation", {"filter": {}}, format="json").json()["batchOperationKey"]
    assert api.post(f"/v2/batch-operations/{key}/cancellation", {}, format="json").status_code == 204
    assert api.get(f"/v2/batch-operations/{key}").json()["state"] == "CANCELED"
    run_batch(int(key))
    assert ProcessInstance.objects.filter(state="ACTIVE").count() == 5
