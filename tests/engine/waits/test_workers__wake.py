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
            first = start_instance(creds.tenant, definition, {}, "test", timezone.now()).key
            for _ in range(2):  # three commands, one wake-up
                start_instance(creds.tenant, definition, {}, "test", timezone.now())
        notes = list(listener.notifies(timeout=2))
        assert [n.payload for n in notes] == [str(first)]  # it names an instance: one worker answers it

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


def test_each_wake_up_is_answered_by_one_listening_worker_and_a_broadcast_by_all(creds):
    from engine.runtime.wake_share import WakeShare

    a, b = WakeShare(), WakeShare()
    la, lb = _listener(), _listener()
    try:
        a.take_slot(la)
        b.take_slot(lb)
        assert a.slot != b.slot
        a.refresh()
        b.refresh()
        keys = [str(2251799813685249 + i) for i in range(20)]
        answered = [(a.answers(k), b.answers(k)) for k in keys]
        assert all(x != y for x, y in answered)  # exactly one of the two
        assert any(x for x, _ in answered) and any(y for _, y in answered)  # shared, not all on one
        assert a.answers("") and b.answers("")  # no payload: everyone

        lb.close()  # the second worker's session ends (a crash included): its slot is free

        def answers_all() -> bool:
            a.refresh()  # the ended session's backend lets go of its lock as it exits
            return all(a.answers(k) for k in keys)

        wait_for(answers_all, timeout=10)
        c = WakeShare()
        lc = _listener()
        try:
            c.take_slot(lc)
            assert c.slot == b.slot  # the lowest free slot is taken again
        finally:
            lc.close()
    finally:
        la.close()
        lb.close()


def test_two_workers_apply_every_command_at_once_and_one_alone_after_the_other_is_killed(creds, start_worker):
    definition = _deploy(creds)
    workers = [start_worker(FLOWSYNC_ENGINE_SWEEP_SECONDS="1") for _ in range(2)]
    first = start_instance(creds.tenant, definition, {}, "test", timezone.now()).key
    wait_for(lambda: not Command.objects.filter(process_instance_key=first, state="PENDING").exists(), timeout=60)
    time.sleep(2.5)  # both have swept once since they started listening: each knows the other
    connection.close()

    keys = [start_instance(creds.tenant, definition, {}, "test", timezone.now()).key for _ in range(12)]
    wait_for(lambda: not Command.objects.filter(process_instance_key__in=keys, state="PENDING").exists(), timeout=10)
    connection.close()

    workers[1].kill()  # SIGKILL: its share of wake-ups goes to the survivor from its next sweep on
    keys = [start_instance(creds.tenant, definition, {}, "test", timezone.now()).key for _ in range(12)]
    wait_for(lambda: not Command.objects.filter(process_instance_key__in=keys, state="PENDING").exists(), timeout=15)
    assert not Command.objects.filter(state="PENDING").exists()


def test_a_drain_that_applied_everything_it_saw_claims_no_more(creds, monkeypatch):
    from engine.runtime import loop

    definition = _deploy(creds)
    claims: list[int] = []
    real_claim = loop._claim

    def counted(limit: int):  # type: ignore[no-untyped-def]
        found = real_claim(limit)
        claims.append(len(found))
        return found

    monkeypatch.setattr(loop, "_claim", counted)
    with transaction.atomic():
        for _ in range(3):
            start_instance(creds.tenant, definition, {}, "test", timezone.now())
    assert loop.drain() == 3
    assert claims == [3]  # one batch; no trailing claim that finds nothing
    claims.clear()
    with transaction.atomic():
        for _ in range(5):
            start_instance(creds.tenant, definition, {}, "test", timezone.now())
    assert loop.drain(batch_size=2) == 5
    assert claims == [2, 2, 1]  # full batches look again; the last, not full, ends the drain
    assert not Command.objects.filter(state="PENDING").exists()
