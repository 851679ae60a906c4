"""The walking skeleton end to end: real HTTP, PostgreSQL, Redis and a real RQ worker process."""

from __future__ import annotations

import httpx
import pytest

from engine.models import Command, Event, Variable
from tests.conftest import bpmn_file, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_hello_world_over_http_with_a_worker_process(live_server, creds, start_worker):
    worker = start_worker()
    http = httpx.Client(base_url=live_server.url + "/v2", auth=(creds.client_id, creds.secret), timeout=10)

    resp = http.post(
        "/deployments",
        files=[("resources", ("order.bpmn", bpmn_file("hello-service-task.bpmn"), "application/octet-stream"))],
    )
    assert resp.status_code == 200, resp.text
    resp = http.post(
        "/process-instances",
        json={"processDefinitionId": "order-process", "variables": {"orderId": "A-1", "amount": 42}},
    )
    assert resp.status_code == 200, resp.text
    pi_key = resp.json()["processInstanceKey"]

    def activate():
        jobs = http.post(
            "/jobs/activation",
            # A long poll shorter than the client's timeout: the worker process may still be starting.
            json={"type": "payment", "worker": "w1", "timeout": 10000, "maxJobsToActivate": 5, "requestTimeout": 2000},
        ).json()["jobs"]
        return jobs or None

    jobs = wait_for(activate, timeout=40)  # the engine worker process starts first (slow on a busy machine)
    assert [j["processInstanceKey"] for j in jobs] == [pi_key]
    assert http.post(f"/jobs/{jobs[0]['jobKey']}/completion", json={"variables": {"receipt": "R-9"}}).status_code == 204

    final = wait_for(lambda: (r := http.get(f"/process-instances/{pi_key}").json())["state"] == "COMPLETED" and r)
    assert final["endDate"] and final["processDefinitionId"] == "order-process"
    assert {v.name: v.value for v in Variable.objects.filter(process_instance_id=int(pi_key))} == {
        "orderId": "A-1",
        "amount": 42,
        "receipt": "R-9",
    }
    kinds = list(
        Event.objects.filter(process_instance_key=int(pi_key)).order_by("id").values_list("command_kind", flat=True)
    )
    assert kinds == ["CREATE_INSTANCE", "COMPLETE_JOB"]
    assert not Command.objects.filter(state="PENDING").exists()
    assert worker.proc.poll() is None, worker.output()


def test_commands_written_while_no_worker_runs_are_applied_when_one_starts(live_server, creds, start_worker):
    http = httpx.Client(base_url=live_server.url + "/v2", auth=(creds.client_id, creds.secret), timeout=10)
    http.post("/deployments", files=[("resources", ("order.bpmn", bpmn_file("hello-service-task.bpmn")))])
    keys = [
        http.post("/process-instances", json={"processDefinitionId": "order-process"}).json()["processInstanceKey"]
        for _ in range(3)
    ]
    import django_rq

    # No worker and the wake-up jobs lost (as if Redis had restarted): only PostgreSQL knows.
    django_rq.get_connection("engine").flushdb()
    assert Command.objects.filter(state="PENDING").count() == 3
    start_worker()
    wait_for(lambda: not Command.objects.filter(state="PENDING").exists())
    jobs = http.post("/jobs/activation", json={"type": "payment", "timeout": 10000, "maxJobsToActivate": 10}).json()[
        "jobs"
    ]
    assert sorted(j["processInstanceKey"] for j in jobs) == sorted(keys)
