"""A schedule trigger fires exactly one run per tick while two engine worker processes sweep."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from engine.models import ProcessInstance, Timer
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FLOW = {
    "id": "ticking",
    "nodes": [{"id": "stamp", "kind": "transform", "set": {"ran": "source + '!'"}}],
    # Yearly, so no real tick falls inside the test: the test brings each tick forward itself.
    "triggers": [{"id": "yearly", "kind": "schedule", "cron": "0 0 1 1 *", "input": {"source": "cron"}}],
}


def test_one_run_per_tick_with_two_workers(live_server, creds, start_worker):
    api = httpx.Client(base_url=live_server.url, auth=(creds.client_id, creds.secret), timeout=10)
    assert api.post("/api/flows/", content=json.dumps(FLOW), headers={"Content-Type": "application/json"}
                    ).status_code == 201
    workers = [start_worker(), start_worker()]
    timer = Timer.objects.get(process_instance_key__isnull=True, element_id="trigger.yearly")
    assert timer.due_at > timezone.now()  # the next 1 January
    [shown] = api.get("/api/flows/ticking/triggers").json()["items"]
    assert shown["kind"] == "schedule" and shown["nextFireAt"].startswith(timer.due_at.strftime("%Y-%m-%dT%H:%M"))
    for tick in range(1, 4):
        # Bring the tick forward instead of waiting a minute for it: both workers' sweeps see it due.
        Timer.objects.filter(key=timer.key).update(due_at=timezone.now() - timedelta(seconds=1))
        wait_for(lambda tick=tick: ProcessInstance.objects.count() >= tick, timeout=20)
        time.sleep(1.5)  # several more sweeps of both workers
        assert ProcessInstance.objects.count() == tick
        assert Timer.objects.get(key=timer.key).due_at > timezone.now()
    keys = list(ProcessInstance.objects.values_list("key", flat=True))
    wait_for(lambda: all(api.get(f"/api/flows/executions/{k}").json()["status"] == "succeeded" for k in keys))
    execution = api.get(f"/api/flows/executions/{keys[0]}").json()
    assert execution["trigger"] == {"kind": "schedule", "id": "yearly"}
    steps = api.get(f"/api/flows/executions/{keys[0]}/steps").json()["items"]
    assert steps[0]["result"] == {"ran": "cron!"}
    assert all(w.proc.poll() is None for w in workers)
