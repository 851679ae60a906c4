"""kill -9 of a web worker mid-request: what was acknowledged stays, a repeat with the key duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid

import httpx
import pytest
from django.utils import timezone

from engine.actions.jobs import activate_jobs, complete_job
from engine.definitions.deploy import Resource, deploy
from engine.models import Job, ProcessInstance
from tests.conftest import bpmn_file, wait_for
from tests.live import WebServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_create_cut_off_by_kill_9_is_repeated_with_its_key_and_exists_once(creds, start_worker):
    deploy(creds.tenant, [Resource("order.bpmn", bpmn_file("hello-service-task.bpmn"))], timezone.now())
    start_worker()
    web = WebServer(workers=1, threads=4)
    idem = str(uuid.uuid4())
    body = {"processDefinitionId": "order-process", "awaitCompletion": True, "requestTimeout": 30000}
    headers = {"Authorization": creds.header, "Idempotency-Key": idem}
    cut: dict[str, Exception] = {}

    def create() -> None:
        try:
            httpx.post(web.url + "/v2/process-instances", json=body, headers=headers, timeout=60)
        except httpx.HTTPError as exc:
            cut["error"] = exc

    try:
        thread = threading.Thread(target=create)
        thread.start()
        # The create committed and the request now waits for the instance to complete: kill its worker.
        wait_for(lambda: Job.objects.filter(tenant=creds.tenant).exists(), timeout=30)
        [worker_pid] = subprocess.run(["pgrep", "-P", str(web.proc.pid)], capture_output=True,
                                      text=True).stdout.split()
        os.kill(int(worker_pid), signal.SIGKILL)
        thread.join(timeout=30)
        assert "error" in cut  # the client never got its answer
        wait_for(lambda: _up(web.url), timeout=30)  # the master started another worker
        [job] = activate_jobs([creds.tenant.pk], "payment", "test", 60_000, 1, timezone.now())
        complete_job([creds.tenant.pk], job.key, {}, "test", timezone.now())
        # The client repeats its request with the same key: the first answer, nothing new created.
        resp = httpx.post(web.url + "/v2/process-instances", json=body, headers=headers, timeout=60)
        assert resp.status_code == 200, resp.text
        [instance] = ProcessInstance.objects.filter(tenant=creds.tenant)
        assert resp.json()["processInstanceKey"] == str(instance.key)
        wait_for(lambda: ProcessInstance.objects.get(key=instance.key).state == "COMPLETED", timeout=30)
    finally:
        web.stop(signal.SIGKILL)


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/v2/status", timeout=2).status_code == 204
    except httpx.HTTPError:
        time.sleep(0.1)
        return False
