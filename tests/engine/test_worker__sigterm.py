"""SIGTERM stops an engine worker at once and cleanly: the batch in hand is finished, no other is taken."""

from __future__ import annotations

import signal
import time

import pytest
from django.db import connection
from django.utils import timezone

from engine.actions.instances import find_definition, start_instance
from engine.definitions.deploy import Resource, deploy
from engine.models import Command, ProcessInstance
from engine.runtime.loop import drain
from tests.conftest import wait_for
from tests.engine.runaway import plain

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_sigterm_mid_drain_finishes_the_batch_and_exits_at_once(creds, start_worker):
    deploy(creds.tenant, [Resource("plain.bpmn", plain())], timezone.now())
    definition = find_definition(creds.tenant, process_id="plain")
    keys = [start_instance(creds.tenant, definition, {}, "test", timezone.now()).key for _ in range(1500)]
    # Small batches: a drain of all of them takes many batches, so the signal lands mid-drain.
    worker = start_worker(FLOWSYNC_ENGINE_BATCH_SIZE="10")
    wait_for(lambda: ProcessInstance.objects.filter(state="COMPLETED").exists(), timeout=60, interval=0.01)
    signalled = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    worker.proc.wait(timeout=20)
    stopped_in = time.monotonic() - signalled
    assert worker.proc.returncode == 0, worker.log_text()
    assert stopped_in < 3, stopped_in
    # It stopped between batches: work is left, and nothing is half applied (one transaction per batch).
    pending = Command.objects.filter(state="PENDING").count()
    assert pending > 0
    assert ProcessInstance.objects.filter(state="ACTIVE").count() == pending
    # No lock of the worker outlives it: everything is claimable at once by someone else.
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()")
        assert cur.fetchone()[0] == 0
    drain()
    assert ProcessInstance.objects.filter(key__in=keys, state="COMPLETED").count() == len(keys)
    assert Command.objects.filter(state="PROCESSED").count() == len(keys)
