"""Schedule triggers (cron and a fixed interval) fire exactly one run per tick while three engine worker
processes sweep; the API shows each schedule's next fire time."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from engine.models import ProcessInstance, Timer, WorkerHeartbeat
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FLOW = {
    "id": "ticking",
    "nodes": [{"id": "stamp", "kind": "transform", "set": {"ran": "source + '!'"}}],
    # Yearly, so no real tick falls inside the test: the test brings each tick forward itself.
    "triggers": [{"id": "yearly", "kind": "schedule", "cron": "0 0 1 1 *", "input": {"source": "cron"}},
                 {"id": "twice_a_day", "kind": "schedule", "every": "PT12H", "input": {"source": "interval"}}],
}


def test_one_run_per_tick_with_three_workers(live_server, creds, start_worker):
    api = httpx.Client(base_url=live_server.url, auth=(creds.client_id, creds.secret), timeout=10)
    assert api.post("/api/flows/", content=json.dumps(FLOW), headers={"Content-Type": "application/json"}
                    ).status_code == 201
    workers = [start_worker(), start_worker(), start_worker()]
    pids = {w.proc.pid for w in workers}
    # All three are up and sweeping before the first tick is due (slow to start on a loaded machine).
    wait_for(lambda: pids <= set(WorkerHeartbeat.objects.values_list("pid", flat=True)), timeout=90)
    timer = Timer.objects.get(process_instance_key__isnull=True, element_id="trigger.yearly")
    interval = Timer.objects.get(process_instance_key__isnull=True, element_id="trigger.twice_a_day")
    assert timer.due_at > timezone.now()  # the next 1 January
    assert interval.spec == "R/PT12H" and timedelta(hours=11) < interval.due_at - timezone.now() <= timedelta(hours=12)
    shown = {t["id"]: t for t in api.get("/api/flows/ticking/triggers").json()["items"]}
    assert shown["yearly"]["nextFireAt"].startswith(timer.due_at.strftime("%Y-%m-%dT%H:%M"))
    assert shown["twice_a_day"]["nextFireAt"].startswith(interval.due_at.strftime("%Y-%m-%dT%H:%M"))
    for tick in range(1, 7):
        # Bring the tick forward instead of waiting for it: all three workers' sweeps see it due.
        due = timer if tick % 2 else interval
        Timer.objects.filter(key=due.key).update(due_at=timezone.now() - timedelta(seconds=1))
        wait_for(lambda tick=tick: ProcessInstance.objects.count() >= tick, timeout=30)
        time.sleep(1.5)  # several more sweeps of every worker
        assert ProcessInstance.objects.count() == tick
        assert Timer.objects.get(key=due.key).due_at > timezone.now()
    keys = list(ProcessInstance.objects.values_list("key", flat=True))
    wait_for(lambda: all(api.get(f"/api/flows/executions/{k}").json()["status"] == "succeeded" for k in keys))
    triggered = sorted(api.get(f"/api/flows/executions/{k}").json()["trigger"]["id"] for k in keys)
    assert triggered == ["twice_a_day"] * 3 + ["yearly"] * 3
    results = {api.get(f"/api/flows/executions/{k}/steps").json()["items"][0]["result"]["ran"] for k in keys}
    assert results == {"cron!", "interval!"}
    assert all(w.proc.poll() is None for w in workers)
