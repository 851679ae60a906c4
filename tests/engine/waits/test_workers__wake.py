"""A committed command wakes a listening worker at once; a rolled-back one wakes nobody."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone

from engine.actions.instances import find_definition, start_instance
from engine.models import Command, ProcessInstance
from engine.store.wake import CHANNEL
from tests import conftest as shared
from tests.conftest import wait_for
from tests.engine.waits.conftest import BPMN

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _deploy(creds):  # type: ignore[no-untyped-def]
    from engine.definitions.deploy import Resource, deploy

    deploy(creds.tenant, [Resource("retries.bpmn", (BPMN / "retries.bpmn").read_bytes())], timezone.now())
    return find_definition(creds.tenant, process_id="retries")


def _listener() -> psycopg.Connection:
    conn = psycopg.connect(shared.test_database_url(), autocommit=True)
    conn.execute(f"LISTEN {CHANNEL}")
    return conn


def test_a_commit_notifies_once_and_a_rollback_not_at_all(creds):
    definition = _deploy(creds)
    listener = _listener()
    try:
        with transaction.atomic():
            for _ in range(3):  # three commands, one wake-up
                start_instance(creds.tenant, definition, {}, "test", timezone.now())
        assert len(list(listener.notifies(timeout=2))) == 1

        with pytest.raises(RuntimeError), transaction.atomic():
            start_instance(creds.tenant, definition, {}, "test", timezone.now())
            raise RuntimeError("the request fails after writing its command")
        assert list(listener.notifies(timeout=0.5)) == []
        assert Command.objects.count() == 3
    finally:
        listener.close()


def test_a_running_worker_applies_a_command_long_before_its_next_sweep(creds, start_worker):
    definition = _deploy(creds)
    start_worker(FLOWSYNC_ENGINE_SWEEP_SECONDS="120")
    # The worker's start-up sweep has run once it applies a first command.
    first = start_instance(creds.tenant, definition, {}, "test", timezone.now()).key
    wait_for(lambda: not Command.objects.filter(process_instance_key=first, state="PENDING").exists(), timeout=60)
    connection.close()

    started = time.monotonic()
    key = start_instance(creds.tenant, definition, {}, "test", timezone.now()).key
    wait_for(lambda: not Command.objects.filter(process_instance_key=key, state="PENDING").exists(), timeout=10)
    assert time.monotonic() - started < 10  # a sweep would take 120 s
    assert ProcessInstance.objects.get(key=key).state == "ACTIVE"  # waiting at its service task


def test_the_worker_listens_again_after_its_database_connections_are_killed(creds, start_worker):
    definition = _deploy(creds)
    start_worker(FLOWSYNC_ENGINE_SWEEP_SECONDS="120")
    first = start_instance(creds.tenant, definition, {}, "test", timezone.now()).key
    wait_for(lambda: not Command.objects.filter(process_instance_key=first, state="PENDING").exists(), timeout=60)

    # A database restart, as the worker sees it: its listening connection dies.
    def terminate_listener() -> bool:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE %s",
                [f"LISTEN {CHANNEL}%"],
            )
            return bool(cur.fetchall())

    wait_for(terminate_listener, timeout=30)  # the loop thread may still be starting
    time.sleep(2)  # it notices, waits a moment and reconnects
    key = start_instance(creds.tenant, definition, {}, "test", timezone.now()).key
    wait_for(lambda: not Command.objects.filter(process_instance_key=key, state="PENDING").exists(), timeout=15)
