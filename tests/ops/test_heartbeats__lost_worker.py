"""Engine worker heartbeats: alive while the process lives, lost when it is killed -9, stopped after
SIGTERM; `manage.py flowsync_status` prints the same. A killed worker's claims need no takeover:
another worker applies what it left."""

from __future__ import annotations

import io
import json
import signal

import pytest
from django.core.management import call_command

from engine.models import ProcessInstance, WorkerHeartbeat
from engine.queries import status
from tests.conftest import deploy_file, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
FAST = {"FLOWSYNC_HEARTBEAT_SECONDS": "0.2"}


def states() -> dict[int, str]:
    return {w.pid: w.state for w in status.workers()}


def flowsync_status() -> str:
    out = io.StringIO()
    call_command("flowsync_status", stdout=out, no_color=True)
    return out.getvalue()


def test_a_killed_worker_is_shown_lost_and_the_other_applies_its_work(api, start_worker, settings):
    settings.FLOWSYNC_HEARTBEAT_LOST_SECONDS = 1.5
    doomed = start_worker(**FAST)
    wait_for(lambda: states().get(doomed.proc.pid) == "alive")
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    key = api.post("/v2/process-instances", {"processDefinitionId": "order-process"},
                   format="json").json()["processInstanceKey"]
    # The worker applies it and its heartbeat counts it.
    wait_for(lambda: WorkerHeartbeat.objects.filter(pid=doomed.proc.pid, commands_applied__gte=1).exists())
    row = WorkerHeartbeat.objects.get(pid=doomed.proc.pid)
    assert row.version and row.host and row.started_at <= row.last_seen
    assert row.stopped_at is None

    doomed.kill(signal.SIGKILL)
    assert states()[doomed.proc.pid] == "alive"  # not yet: silence is only lost after the timeout
    wait_for(lambda: states().get(doomed.proc.pid) == "lost", timeout=10)
    report = flowsync_status()
    assert "1 lost" in report and "LOST" in report and str(doomed.proc.pid) in report

    # Work written while only the dead worker was registered is applied by the next one.
    job = wait_for(lambda: api.post("/v2/jobs/activation", {"type": "payment", "worker": "w", "timeout": 10000,
                                                            "maxJobsToActivate": 1}, format="json").json()["jobs"])
    assert api.post(f"/v2/jobs/{job[0]['jobKey']}/completion", {}, format="json").status_code == 204
    survivor = start_worker(**FAST)
    wait_for(lambda: ProcessInstance.objects.get(key=int(key)).state == "COMPLETED")
    wait_for(lambda: states().get(survivor.proc.pid) == "alive")
    assert states()[doomed.proc.pid] == "lost"

    survivor.kill(signal.SIGTERM)  # a graceful stop is recorded, not mistaken for a loss
    assert states()[survivor.proc.pid] == "stopped"
    report = flowsync_status()
    assert "STOPPED" in report and "Backlog: 0 pending commands" in report
    # Off a terminal the worker logs JSON lines, each naming the worker.
    lines = [json.loads(line) for line in survivor.log_text().splitlines() if line.strip()]
    assert any(line["message"] == "sweep applied 1 pending commands" for line in lines), lines
    assert {line.get("worker") for line in lines} == {WorkerHeartbeat.objects.get(pid=survivor.proc.pid).id}
