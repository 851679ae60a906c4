"""A cancellation that waits for canceling task listeners survives engine workers killed at the worst moments:
mid-transaction while applying the cancellation, and while the listener job's completion is pending. The
listener job is created exactly once and the instance ends exactly once, after the job completed."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from engine.actions.instances import cancel_instance, find_definition, start_instance
from engine.actions.jobs import activate_jobs, complete_job
from engine.definitions.deploy import Resource, deploy
from engine.models import Command, Job, ProcessInstance, UserTask
from tests.conftest import wait_for
from tests.engine.conformance.harness import BPMN
from tests.engine.waits.crash import blocked_backends, records

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_worker_killed_mid_cancel_and_mid_completion_loses_and_duplicates_nothing(creds, start_worker):
    deploy(creds.tenant, [Resource("c.bpmn", (BPMN / "user-task-canceling.bpmn").read_bytes())], timezone.now())
    definition = find_definition(creds.tenant, process_id="user-task-canceling")
    first = start_worker()
    key = start_instance(creds.tenant, definition, {"orderId": "K"}, "test", timezone.now()).key
    task = wait_for(lambda: UserTask.objects.filter(process_instance_key=key, state="CREATED").first(), timeout=60)

    # Hold the task's row: the worker applying the cancellation blocks inside its transaction, at the flush.
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                UserTask.objects.select_for_update().get(key=task.key)
                locked.set()
                release.wait(60)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(30)
    cancel_instance(creds.tenant, key, "test", timezone.now())
    wait_for(lambda: blocked_backends() >= 1, timeout=60)
    first.kill()  # kill -9 in the middle of the cancellation's transaction
    release.set()
    holder.join(30)
    assert not Job.objects.filter(process_instance_key=key, listener_event_type="CANCELING").exists()
    assert Command.objects.get(process_instance_key=key, kind="CANCEL_INSTANCE").state == "PENDING"

    second = start_worker()
    [job] = wait_for(lambda: list(Job.objects.filter(process_instance_key=key, type="tl-cancel-1")), timeout=60)
    assert UserTask.objects.get(key=task.key).state == "CANCELING"
    assert ProcessInstance.objects.get(key=key).state == "ACTIVE"

    second.kill()  # the first listener's completion arrives while no worker runs
    [activated] = activate_jobs([creds.tenant.pk], "tl-cancel-1", "w", 60_000, 1, timezone.now())
    complete_job([creds.tenant.pk], activated.key, {}, "test", timezone.now())
    start_worker()
    start_worker()  # two workers race for the pending completion
    [job2] = wait_for(lambda: list(Job.objects.filter(process_instance_key=key, type="tl-cancel-2")), timeout=60)
    [activated] = activate_jobs([creds.tenant.pk], "tl-cancel-2", "w", 60_000, 1, timezone.now())
    complete_job([creds.tenant.pk], activated.key, {}, "test", timezone.now())
    wait_for(lambda: ProcessInstance.objects.get(key=key).state == "TERMINATED", timeout=60)

    assert Job.objects.filter(process_instance_key=key, listener_event_type="CANCELING").count() == 2
    assert records(key, "USER_TASK_CANCELING") == 1 and records(key, "USER_TASK_CANCELED") == 1
    assert records(key, "PROCESS_INSTANCE_TERMINATED") == 1
    assert UserTask.objects.get(key=task.key).state == "CANCELED"
    assert set(Command.objects.filter(process_instance_key=key).values_list("state", flat=True)) == {"PROCESSED"}
