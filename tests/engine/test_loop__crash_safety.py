"""No lost and no duplicated work: redelivery, worker crash mid-batch, concurrent drains."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from engine.models import Command, ElementInstance, Event, Job, ProcessInstance
from engine.runtime.loop import apply_commands, drain, process_batch
from tests.conftest import deploy_file

pytestmark = pytest.mark.django_db


def start(api, n: int = 1) -> list[str]:
    deploy_file(api, "hello-service-task.bpmn")
    return [
        api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json").json()[
            "processInstanceKey"
        ]
        for _ in range(n)
    ]


def test_processing_the_same_command_twice_has_no_second_effect(api):
    (key,) = start(api)
    assert drain() == 1
    cmd = Command.objects.get()
    # A redelivered wake-up finds nothing pending.
    assert drain() == 0
    # Even if a stale copy of the command is applied again, the processor refuses it.
    with transaction.atomic():
        instance = ProcessInstance.objects.select_for_update().get(key=int(key))
        cmd.state = Command.State.PENDING
        apply_commands([instance], [cmd])
    assert Command.objects.get().state == "REJECTED"
    assert Job.objects.count() == 1
    assert ElementInstance.objects.filter(element_id="Task_Pay").count() == 1


def test_a_batch_that_dies_midway_leaves_its_commands_pending(api, monkeypatch):
    start(api, 3)
    from engine.runtime import loop

    def crash(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(loop, "_flush", crash)
    with pytest.raises(SystemExit):
        process_batch(100)
    monkeypatch.undo()
    assert Command.objects.filter(state="PENDING").count() == 3
    assert not ElementInstance.objects.exists() and not Event.objects.exists()
    assert drain() == 3
    assert Job.objects.count() == 3


def test_an_engine_bug_fails_only_its_command(api, monkeypatch):
    keys = start(api, 2)
    from engine.runtime import processors

    original = processors.PROCESSORS["CREATE_INSTANCE"]

    def flaky(run, payload):
        if str(run.instance.key) == keys[0]:
            raise RuntimeError("boom")
        return original(run, payload)

    monkeypatch.setitem(processors.PROCESSORS, "CREATE_INSTANCE", flaky)
    drain()
    failed = Command.objects.get(process_instance_key=int(keys[0]))
    assert failed.state == "FAILED" and "boom" in failed.error
    assert Command.objects.get(process_instance_key=int(keys[1])).state == "PROCESSED"
    assert Job.objects.filter(process_instance_key=int(keys[1])).count() == 1
    assert not Job.objects.filter(process_instance_key=int(keys[0])).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_drains_apply_each_command_once(api):
    start(api, 40)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            drain(batch_size=5)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert Command.objects.filter(state="PROCESSED").count() == 40
    assert Job.objects.count() == 40
    assert Event.objects.count() == 40


@pytest.mark.postgres  # the block cache is PostgreSQL's; SQLite draws keys inside the transaction
def test_a_forked_process_never_reuses_its_parents_key_block(db):
    import os

    from engine.keys import next_key

    parent_key = next_key()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: draw one key and report it
        from django.db import connections

        connections["default"].connection = None  # never touch the parent's socket
        os.write(write, str(next_key()).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child_key = int(os.read(read, 64))
    from engine.keys import BLOCK, FIRST_KEY

    # The child drew from a block of its own, not from the rest of the parent's block.
    assert (child_key - FIRST_KEY) // BLOCK != (parent_key - FIRST_KEY) // BLOCK
