"""Real worker processes dying at the worst moment lose and duplicate nothing."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from engine.actions.instances import find_definition, start_instance
from engine.actions.jobs import activate_jobs
from engine.models import Command, ElementInstance, Job, Timer
from engine.runtime.loop import drain
from tests.conftest import wait_for
from tests.engine.waits.conftest import BPMN

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_timer_due_while_the_worker_is_dead_fires_once_after_restart(creds, start_worker):
    from engine.definitions.deploy import Resource, deploy

    deploy(creds.tenant, [Resource("timers.bpmn", (BPMN / "timers.bpmn").read_bytes())], timezone.now())
    definition = find_definition(creds.tenant, process_id="timers")
    first = start_worker()
    key = start_instance(creds.tenant, definition, {"delay": "PT4S"}, "test", timezone.now()).key
    # Generous timeouts: starting a worker process is slow on a busy 2-core machine.
    wait_for(lambda: Timer.objects.filter(element_id="Wait", state="ACTIVE").exists(), timeout=60)
    first.kill()  # kill -9 while the timer is pending
    due = Timer.objects.get(element_id="Wait").due_at
    time.sleep(max(0.0, (due - timezone.now()).total_seconds()) + 0.5)  # it falls due while no worker runs
    start_worker()
    start_worker()  # two sweepers race for the due timer
    wait_for(lambda: ElementInstance.objects.filter(process_instance_id=key, element_id="Work").exists(), timeout=60)
    time.sleep(1.5)  # a few more sweeps: a second firing would show now
    assert Command.objects.filter(kind="TRIGGER_TIMER").count() == 1
    assert ElementInstance.objects.filter(process_instance_id=key, element_id="Work").count() == 1
    assert Job.objects.filter(process_instance_key=key, type="work").count() == 1


def test_two_workers_racing_for_jobs_get_disjoint_sets(creds):
    from engine.definitions.deploy import Resource, deploy

    deploy(creds.tenant, [Resource("retries.bpmn", (BPMN / "retries.bpmn").read_bytes())], timezone.now())
    definition = find_definition(creds.tenant, process_id="retries")
    for _ in range(60):
        start_instance(creds.tenant, definition, {}, "test", timezone.now())
    drain()
    got: dict[str, list[int]] = {"a": [], "b": []}
    # Both connected before either activates: one statement per activation is fast enough that a
    # worker still connecting would otherwise find every job taken, and there would be no race.
    ready = threading.Barrier(len(got))

    def worker(name: str) -> None:
        try:
            connection.ensure_connection()
            ready.wait(timeout=30)
            while jobs := activate_jobs([creds.tenant.pk], "charge", name, 60_000, 4, timezone.now()):
                got[name] += [j.key for j in jobs]
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(got["a"]) & set(got["b"])
    assert len(got["a"]) + len(got["b"]) == 60
    assert got["a"] and got["b"]
