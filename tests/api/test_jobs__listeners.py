"""Listener jobs through /v2 (in-process engine): searched by `kind` and `listenerEventType`, and a task
listener's completion `result` refused with a problem when it is malformed."""

from __future__ import annotations

import pytest

from engine.models import Job, UserTask
from engine.runtime.loop import drain
from tests.api.conftest import api_bpmn, assert_problem, start
from tests.conftest import deploy_file

pytestmark = pytest.mark.django_db


def _activate(api, job_type: str) -> dict:  # type: ignore[no-untyped-def]
    jobs = api.post("/v2/jobs/activation", {"type": job_type, "timeout": 60_000, "maxJobsToActivate": 1,
                                            "requestTimeout": -1}, format="json").json()["jobs"]
    assert len(jobs) == 1, jobs
    return jobs[0]


def test_listener_jobs_are_searched_by_kind_and_event_type(api):
    assert deploy_file(api, "listener-order.bpmn", api_bpmn("listener-order.bpmn")).status_code == 200
    key = start(api, "listener-order", variables={"orderId": "S"})
    drain()
    job = _activate(api, "listen-audit")
    assert (job["kind"], job["listenerEventType"], job["elementId"]) == ("EXECUTION_LISTENER", "START",
                                                                        "listener-order")
    assert api.post(f"/v2/jobs/{job['jobKey']}/completion", {}, format="json").status_code == 204
    drain()
    found = api.post("/v2/jobs/search", {"filter": {"processInstanceKey": key, "kind": "EXECUTION_LISTENER"}},
                     format="json").json()["items"]
    assert [(j["type"], j["listenerEventType"]) for j in found] == [("listen-audit", "START"),
                                                                    ("listen-prepare", "START")]
    ends = api.post("/v2/jobs/search", {"filter": {"processInstanceKey": key, "listenerEventType": "END"}},
                      format="json").json()["items"]
    assert ends == []
    elements = api.post("/v2/jobs/search", {"filter": {"processInstanceKey": key, "kind": "BPMN_ELEMENT"}},
                        format="json").json()["items"]
    assert elements == []  # the task's own job does not exist before its start listener is done


def test_a_malformed_task_listener_result_is_a_problem_and_changes_nothing(api, settings):
    assert deploy_file(api, "listener-approval.bpmn", api_bpmn("listener-approval.bpmn")).status_code == 200
    start(api, "listener-approval", variables={"orderId": "R"})
    drain()
    task = UserTask.objects.get()
    # The request waits for the completing listener (as Camunda's); no engine runs during it here: 504, and the
    # completion goes on.
    settings.FLOWSYNC_TASK_LISTENER_WAIT_MS = 200
    waited = assert_problem(api.post(f"/v2/user-tasks/{task.key}/completion", {}, format="json"), 504)
    assert "waits for its task listeners" in waited["detail"]
    assert UserTask.objects.get().state == "COMPLETING"
    drain()
    job = _activate(api, "listen-approval-check")
    assert job["kind"] == "TASK_LISTENER" and job["userTask"]["userTaskKey"] == str(task.key)
    response = api.post(f"/v2/jobs/{job['jobKey']}/completion",
                        {"result": {"type": "userTask", "corrections": {"priority": 500}}}, format="json")
    assert "result.corrections.priority" in assert_problem(response, 400)["detail"]
    assert Job.objects.get(key=int(job["jobKey"])).state == "ACTIVATED"
    denied = api.post(f"/v2/jobs/{job['jobKey']}/completion",
                      {"result": {"type": "userTask", "denied": True, "deniedReason": "no"}}, format="json")
    assert denied.status_code == 204
    drain()
    assert UserTask.objects.get().state == "CREATED"
