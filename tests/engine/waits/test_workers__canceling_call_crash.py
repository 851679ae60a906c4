"""A call activity whose termination waits for its child's canceling task listeners survives engine workers
killed (kill -9) mid-transaction at both hand-overs: while the child applies its listener job's completion (and
would end and report CHILD_TERMINATED), and while the parent applies that report. The child ends exactly once,
reports exactly once, and the parent ends exactly once, after it."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, transaction
from django.utils import timezone

from engine.actions.instances import cancel_instance, find_definition, start_instance
from engine.actions.jobs import activate_jobs, complete_job
from engine.definitions.deploy import Resource, deploy
from engine.models import Command, ElementInstance, Job, ProcessInstance, UserTask
from tests.conftest import wait_for
from tests.engine.conformance.harness import BPMN
from tests.engine.waits.crash import blocked_backends, records

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _holding(lock: Callable[[], None]) -> tuple[threading.Thread, threading.Event]:
    """Hold a row lock in another connection until the returned event is set: the engine blocks at its flush."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                lock()
                locked.set()
                release.wait(60)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(30)
    return holder, release


def test_workers_killed_at_both_hand_overs_lose_and_duplicate_nothing(creds, start_worker):
    names = ("canceling-call-child", "canceling-call-parent")
    deploy(creds.tenant, [Resource(f"{n}.bpmn", (BPMN / f"{n}.bpmn").read_bytes()) for n in names], timezone.now())
    definition = find_definition(creds.tenant, process_id="canceling-call-parent")
    first = start_worker()
    parent = start_instance(creds.tenant, definition, {"orderId": "K", "target": "canceling-call-child"}, "test",
                            timezone.now()).key
    task = wait_for(lambda: UserTask.objects.filter(process_instance_key__isnull=False, state="CREATED",
                                                    element_id="Task_Child").first(), timeout=60)
    child = task.process_instance_key
    cancel_instance(creds.tenant, parent, "test", timezone.now())
    wait_for(lambda: Job.objects.filter(process_instance_key=child, type="tl-cancel-child").exists(), timeout=60)
    call = ElementInstance.objects.get(process_instance_id=parent, element_id="Call_Review")

    # 1. Killed while the child applies its listener's completion (its task row is held: the flush blocks).
    holder, release = _holding(lambda: UserTask.objects.select_for_update().get(key=task.key))
    [job] = activate_jobs([creds.tenant.pk], "tl-cancel-child", "w", 60_000, 1, timezone.now())
    complete_job([creds.tenant.pk], job.key, {}, "test", timezone.now())
    wait_for(lambda: blocked_backends() >= 1, timeout=60)
    first.kill()
    release.set()
    holder.join(30)
    assert ProcessInstance.objects.get(key=child).state == "ACTIVE"
    assert not Command.objects.filter(kind="CHILD_TERMINATED").exists()

    # 2. Killed while the parent applies the child's report (its call activity's row is held).
    holder, release = _holding(lambda: ElementInstance.objects.select_for_update().get(key=call.key))
    second = start_worker()
    wait_for(lambda: ProcessInstance.objects.get(key=child).state == "TERMINATED", timeout=60)
    wait_for(lambda: blocked_backends() >= 1, timeout=60)
    second.kill()
    release.set()
    holder.join(30)
    assert Command.objects.get(kind="CHILD_TERMINATED").state == "PENDING"
    assert ProcessInstance.objects.get(key=parent).state == "ACTIVE"
    assert "awaitChild" in ElementInstance.objects.get(key=call.key).data

    start_worker()
    start_worker()  # two workers race for the pending report
    wait_for(lambda: ProcessInstance.objects.get(key=parent).state == "TERMINATED", timeout=60)
    assert records(child, "PROCESS_INSTANCE_TERMINATED") == 1 and records(parent, "PROCESS_INSTANCE_TERMINATED") == 1
    assert records(parent, "CHILD_INSTANCE_TERMINATED") == 1
    assert Command.objects.filter(kind="CHILD_TERMINATED").count() == 1
    assert Job.objects.filter(process_instance_key=child, listener_event_type="CANCELING").count() == 1
    assert UserTask.objects.get(key=task.key).state == "CANCELED"
    assert ElementInstance.objects.get(key=call.key).state == "TERMINATED"
    assert set(Command.objects.filter(process_instance_key__in=[parent, child]).values_list("state", flat=True)) == {
        "PROCESSED"}
