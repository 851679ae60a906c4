"""Batch operations: every item of a search result is done once, in chunks; a run that dies mid-chunk
leaves its items pending and the next run resumes there; a cancelled batch stops between chunks."""

from __future__ import annotations

import pytest
from django.utils import timezone

from engine.actions import batches
from engine.actions.instances import cancel_instance
from engine.errors import InvalidInput
from engine.models import BatchOperation, BatchOperationItem, Command, ProcessInstance
from engine.queries.batches import progress
from engine.runtime.loop import drain
from tests.engine.conformance.harness import Engine

pytestmark = pytest.mark.django_db


@pytest.fixture
def engine(creds) -> Engine:  # type: ignore[no-untyped-def]
    e = Engine(creds.tenant)
    e.deploy("user-task")
    return e


def test_cancel_many_in_chunks_each_once(engine, settings):
    settings.ENGINE_INLINE = False  # run by hand below, not on commit
    keys = [engine.start("user-task") for _ in range(25)]
    cancel_instance(engine.tenant, keys[0], "op", timezone.now())  # already cancelled: that item fails
    drain()
    batch = batches.create_batch(engine.tenant, "CANCEL_PROCESS_INSTANCE", keys + keys[:3], "olga", timezone.now())
    assert progress(batch) == {"PENDING": 25, "DONE": 0, "FAILED": 0, "SKIPPED": 0, "total": 25}
    assert batches.run_batch(batch.key, chunk=10, max_chunks=1) == 10
    assert progress(batch)["PENDING"] == 15
    batches.run_batch(batch.key, chunk=10)
    drain()
    batch.refresh_from_db()
    assert batch.state == "COMPLETED"
    p = progress(batch)
    assert (p["DONE"], p["FAILED"], p["PENDING"]) == (24, 1, 0)
    assert "TERMINATED" in BatchOperationItem.objects.get(batch=batch, item_key=keys[0]).error
    assert set(ProcessInstance.objects.filter(key__in=keys).values_list("state", flat=True)) == {"TERMINATED"}
    # Each instance got exactly one cancel command from the batch (none done twice).
    batch_cmds = Command.objects.filter(kind="CANCEL_INSTANCE", actor__contains=f"batch {batch.key}")
    assert batch_cmds.count() == 24
    assert batches.run_batch(batch.key) == 0  # a finished batch does nothing more


def test_a_run_that_dies_mid_chunk_leaves_its_items_pending(engine, settings, monkeypatch):
    settings.ENGINE_INLINE = False
    keys = [engine.start("user-task") for _ in range(6)]
    batch = batches.create_batch(engine.tenant, "CANCEL_PROCESS_INSTANCE", keys, "olga", timezone.now())
    real_apply = batches._apply
    calls = {"n": 0}

    def dying(b, key, now):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 4:
            raise SystemExit("worker killed")  # not an ActionError: the whole chunk's transaction rolls back
        real_apply(b, key, now)

    monkeypatch.setattr(batches, "_apply", dying)
    with pytest.raises(SystemExit):
        batches.run_batch(batch.key, chunk=5)
    assert progress(batch)["PENDING"] == 6  # nothing of the dead chunk was kept …
    assert not Command.objects.filter(kind="CANCEL_INSTANCE").exists()  # … not even its commands
    monkeypatch.setattr(batches, "_apply", real_apply)
    assert batches.resume_batches() == 1  # queued again; the run below is what its worker does
    batches.run_batch(batch.key, chunk=5)
    assert progress(batch)["DONE"] == 6
    assert Command.objects.filter(kind="CANCEL_INSTANCE").count() == 6


def test_cancel_a_batch_skips_what_is_left(engine, settings):
    settings.ENGINE_INLINE = False
    keys = [engine.start("user-task") for _ in range(5)]
    batch = batches.create_batch(engine.tenant, "CANCEL_PROCESS_INSTANCE", keys, "olga", timezone.now())
    batches.run_batch(batch.key, chunk=2, max_chunks=1)
    batches.cancel_batch([engine.tenant.pk], batch.key, timezone.now())
    assert batches.run_batch(batch.key) == 0
    batch.refresh_from_db()
    assert batch.state == "CANCELED"
    assert progress(batch) == {"PENDING": 0, "DONE": 2, "FAILED": 0, "SKIPPED": 3, "total": 5}


def test_refusals(engine):
    with pytest.raises(InvalidInput):
        batches.create_batch(engine.tenant, "CANCEL_PROCESS_INSTANCE", [], "olga", timezone.now())
    with pytest.raises(InvalidInput):
        batches.create_batch(engine.tenant, "EXPLODE", [1], "olga", timezone.now())
    assert not BatchOperation.objects.exists()
