"""Redis unreachable: the API keeps creating and completing, long polls return jobs, the engine runs on.

The shared Redis is not stopped: the web server and the engine worker are pointed at a
port where nothing listens, which is what they see when Redis is down.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import httpx
import pytest
from django.utils import timezone

from engine.definitions.deploy import Resource, deploy
from engine.models import ProcessInstance
from tests.conftest import bpmn_file, wait_for
from tests.engine.connectors.conftest import BPMN as CONNECTOR_BPMN
from tests.live import WebServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

NO_REDIS = "redis://127.0.0.1:6390/0"


def test_with_redis_down_the_api_creates_completes_and_long_polls(creds, start_worker):
    deploy(creds.tenant, [Resource("order.bpmn", bpmn_file("hello-service-task.bpmn")),
                          Resource("connectors.bpmn", (CONNECTOR_BPMN / "flowsync-connectors.bpmn").read_bytes())],
           timezone.now())
    web = WebServer(REDIS_URL=NO_REDIS)
    worker = start_worker(REDIS_URL=NO_REDIS)
    statuses: Counter = Counter()
    try:
        client = httpx.Client(base_url=web.url, headers={"Authorization": creds.header}, timeout=30)
        polled: dict[str, httpx.Response] = {}

        def long_poll() -> None:
            polled["resp"] = client.post("/v2/jobs/activation", json={
                "type": "payment", "maxJobsToActivate": 1, "timeout": 60000, "requestTimeout": 20000})

        poller = threading.Thread(target=long_poll)
        poller.start()
        time.sleep(1.0)  # the poll waits before any job exists
        keys = []
        for _ in range(10):
            resp = client.post("/v2/process-instances", json={"processDefinitionId": "order-process"},
                               headers={"Idempotency-Key": str(uuid.uuid4())})
            statuses[resp.status_code] += 1
            keys.append(resp.json()["processInstanceKey"])
        resp = client.post("/v2/process-instances", json={
            "processDefinitionId": "transform", "variables": {"order": {"item": "pen", "price": 2, "quantity": 5}}})
        statuses[resp.status_code] += 1
        transform = int(resp.json()["processInstanceKey"])
        poller.join(timeout=30)
        statuses[polled["resp"].status_code] += 1
        jobs = polled["resp"].json()["jobs"]
        assert len(jobs) == 1  # woken by the re-check, not by a Redis notification
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            resp = client.post("/v2/jobs/activation", json={"type": "payment", "maxJobsToActivate": 10,
                                                             "timeout": 60000, "requestTimeout": 1000})
            statuses[resp.status_code] += 1
            jobs += resp.json()["jobs"]
            if len(jobs) == 10:
                break
        for job in jobs:
            resp = client.post(f"/v2/jobs/{job['jobKey']}/completion", json={"variables": {"paid": True}})
            statuses[resp.status_code] += 1
        wait_for(lambda: ProcessInstance.objects.filter(key__in=[int(k) for k in keys],
                                                        state="COMPLETED").count() == 10, timeout=30)
        # Connector jobs are run by the engine worker's sweep when RQ cannot be reached.
        wait_for(lambda: ProcessInstance.objects.get(key=transform).state == "COMPLETED", timeout=30)
        assert worker.proc.poll() is None  # the engine worker runs on without its queue
    finally:
        web.stop()
    assert set(statuses) <= {200, 204}, statuses
