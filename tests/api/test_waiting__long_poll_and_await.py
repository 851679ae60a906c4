"""Long-poll activation and awaitCompletion wait without busy loops, woken through engine.store.notify."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import close_old_connections
from django.utils import timezone

from engine.actions import jobs as job_actions
from engine.models import Job, ProcessInstance
from engine.runtime.loop import drain
from engine.store.notify import notify_instances_ended, notify_jobs_available
from tests.api.conftest import assert_problem, start
from tests.conftest import deploy_file

pytestmark = pytest.mark.django_db(transaction=True)


def later(seconds: float, fn) -> threading.Thread:  # type: ignore[no-untyped-def]
    def run() -> None:
        time.sleep(seconds)
        try:
            fn()
        finally:
            close_old_connections()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def activate(api, request_timeout: int):  # type: ignore[no-untyped-def]
    return api.post("/v2/jobs/activation", {"type": "payment", "timeout": 10_000, "maxJobsToActivate": 5,
                                            "requestTimeout": request_timeout}, format="json")


def test_activation_returns_at_once_when_jobs_wait(api, hello):
    t0 = time.monotonic()
    assert len(activate(api, 20_000).json()["jobs"]) == 1
    assert time.monotonic() - t0 < 2


def test_activation_wakes_on_notification(api, creds, settings):
    settings.FLOWSYNC_WAIT_RECHECK_SECONDS = 30  # only the notification can wake it in time
    deploy_file(api, "hello-service-task.bpmn")

    def create_job() -> None:
        start(api)
        drain()
        notify_jobs_available(creds.tenant.pk, {"payment"})

    thread = later(0.5, create_job)
    t0 = time.monotonic()
    jobs = activate(api, 20_000).json()["jobs"]
    elapsed = time.monotonic() - t0
    thread.join()
    assert len(jobs) == 1 and 0.4 < elapsed < 5


def test_activation_rechecks_even_without_notification(api, settings):
    settings.FLOWSYNC_WAIT_RECHECK_SECONDS = 0.3
    deploy_file(api, "hello-service-task.bpmn")
    thread = later(0.3, lambda: (start(api), drain()))
    jobs = activate(api, 10_000).json()["jobs"]
    thread.join()
    assert len(jobs) == 1


def test_activation_times_out_empty(api, hello):
    activate(api, -1)
    t0 = time.monotonic()
    assert activate(api, 600).json() == {"jobs": []}
    assert 0.5 < time.monotonic() - t0 < 5
    t0 = time.monotonic()
    assert activate(api, -1).json() == {"jobs": []}
    assert time.monotonic() - t0 < 1


def test_await_completion_returns_the_variables(api, settings):
    settings.FLOWSYNC_WAIT_RECHECK_SECONDS = 30
    deploy_file(api, "hello-service-task.bpmn")

    def finish() -> None:
        drain()
        job = Job.objects.get()
        job_actions.complete_job([job.tenant_id], job.key, {"receipt": "R-1"}, "test", timezone.now())
        drain()
        notify_instances_ended([job.process_instance_key])

    thread = later(0.5, finish)
    resp = api.post("/v2/process-instances", {"processDefinitionId": "order-process", "variables": {"orderId": "A"},
                                              "awaitCompletion": True, "requestTimeout": 20_000,
                                              "fetchVariables": ["receipt"]}, format="json")
    thread.join()
    assert resp.status_code == 200, resp.content
    assert resp.json()["variables"] == {"receipt": "R-1"}
    assert ProcessInstance.objects.get().state == "COMPLETED"


def test_await_completion_times_out_with_504(api):
    deploy_file(api, "hello-service-task.bpmn")
    resp = api.post("/v2/process-instances", {"processDefinitionId": "order-process", "awaitCompletion": True,
                                              "requestTimeout": 300}, format="json")
    assert assert_problem(resp, 504)["title"] == "DEADLINE_EXCEEDED"
    assert ProcessInstance.objects.count() == 1  # the instance was created and goes on


def test_await_completion_of_a_canceled_instance_is_409(api):
    deploy_file(api, "hello-service-task.bpmn")

    def cancel() -> None:
        drain()
        pi = ProcessInstance.objects.get()
        api.post(f"/v2/process-instances/{pi.key}/cancellation", format="json")
        drain()
        notify_instances_ended([pi.key])

    thread = later(0.3, cancel)
    resp = api.post("/v2/process-instances", {"processDefinitionId": "order-process", "awaitCompletion": True,
                                              "requestTimeout": 10_000}, format="json")
    thread.join()
    assert_problem(resp, 409)
