"""Batch operations over a search result: cancel instances or resolve incidents, in the background.

`create_batch` fixes the items (every key of the search, not one page) and queues the RQ job;
`run_batch` does them in chunks. Each item is done inside the transaction that marks it DONE or
FAILED (a savepoint per item), so a worker that dies mid-chunk leaves its items PENDING: the next
run resumes there and no item is done twice. Cancelling the batch stops it between chunks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from engine.actions.incidents import resolve_incident
from engine.actions.instances import cancel_instance
from engine.actions.jobs import update_job
from engine.errors import ActionError, Conflict, InvalidInput, NotFound
from engine.keys import next_key
from engine.models import BatchOperation, BatchOperationItem, Incident, Job
from flowsync import redis
from flowsync.models import Tenant

log = logging.getLogger("flowsync.batches")

QUEUE = "default"
CHUNK = 100
MAX_ITEMS = 1_000_000
PENDING = BatchOperationItem.State.PENDING


def create_batch(tenant: Tenant, kind: str, keys: Iterable[int], actor: str, now: datetime,
                 description: str = "") -> BatchOperation:
    if kind not in BatchOperation.Kind.values:
        raise InvalidInput(f"unknown batch operation '{kind}'")
    unique = sorted(set(keys))
    if not unique:
        raise InvalidInput("the search found nothing to operate on")
    if len(unique) > MAX_ITEMS:
        raise InvalidInput(f"a batch takes at most {MAX_ITEMS} items; narrow the search")
    with transaction.atomic():
        batch = BatchOperation.objects.create(key=next_key(), tenant=tenant, kind=kind, actor=actor[:255],
                                              description=description[:1000], created_at=now)
        BatchOperationItem.objects.bulk_create(
            [BatchOperationItem(batch=batch, item_key=k) for k in unique], batch_size=5000)
        transaction.on_commit(lambda: start(batch.key))
    return batch


def start(batch_key: int) -> None:
    """Queue the run (RQ); inline in embedded mode. Redis down: the batch waits for `resume_batches`."""
    if settings.ENGINE_INLINE:
        run_batch(batch_key)
        return
    try:
        redis.queue(QUEUE).enqueue("engine.actions.batches.run_batch", batch_key, result_ttl=0, failure_ttl=86400,
                                   job_timeout=3600)
    except Exception as exc:  # noqa: BLE001 - the batch is durable in PostgreSQL; it resumes later
        log.warning("could not queue batch %s (%s)", batch_key, exc)


def resume_batches() -> int:
    """Queue every batch still ACTIVE (after a crash or a Redis outage); returns how many."""
    keys = list(BatchOperation.objects.filter(state=BatchOperation.State.ACTIVE).values_list("key", flat=True))
    for key in keys:
        start(key)
    return len(keys)


def cancel_batch(tenant_ids: list[int], key: int, now: datetime) -> None:
    with transaction.atomic():
        batch = BatchOperation.objects.select_for_update().filter(tenant_id__in=tenant_ids, key=key).first()
        if batch is None:
            raise NotFound(f"no batch operation with key {key}")
        if batch.state != BatchOperation.State.ACTIVE:
            raise Conflict(f"batch operation {key} is {batch.state}")
        batch.state, batch.ended_at = BatchOperation.State.CANCELED, now
        batch.save(update_fields=["state", "ended_at"])
        batch.items.filter(state=PENDING).update(state=BatchOperationItem.State.SKIPPED, processed_at=now)


def run_batch(batch_key: int, chunk: int = CHUNK, max_chunks: int | None = None) -> int:
    """Do the pending items chunk by chunk until none is left, the batch is cancelled, or `max_chunks`."""
    done = 0
    chunks = 0
    while max_chunks is None or chunks < max_chunks:
        ran = _run_chunk(batch_key, chunk)
        if ran is None:
            return done
        done += ran
        chunks += 1
        if ran == 0:
            break
    with transaction.atomic():
        batch = BatchOperation.objects.select_for_update().filter(key=batch_key).first()
        if batch is not None and batch.state == BatchOperation.State.ACTIVE and not batch.items.filter(
                state=PENDING).exists():
            batch.state, batch.ended_at = BatchOperation.State.COMPLETED, timezone.now()
            batch.save(update_fields=["state", "ended_at"])
    return done


def _run_chunk(batch_key: int, size: int) -> int | None:
    """One chunk in one transaction; None when the batch is gone or no longer active."""
    with transaction.atomic():
        batch = BatchOperation.objects.select_related("tenant").filter(key=batch_key).first()
        if batch is None or batch.state != BatchOperation.State.ACTIVE:
            return None
        items = list(batch.items.select_for_update(skip_locked=True).filter(state=PENDING).order_by("id")[:size])
        now = timezone.now()
        for item in items:
            try:
                with transaction.atomic():
                    _apply(batch, item.item_key, now)
            except ActionError as exc:
                item.state, item.error = BatchOperationItem.State.FAILED, exc.detail[:4000]
            else:
                item.state = BatchOperationItem.State.DONE
            item.processed_at = now
        BatchOperationItem.objects.bulk_update(items, ["state", "error", "processed_at"])
        return len(items)


def _apply(batch: BatchOperation, key: int, now: datetime) -> None:
    actor = f"{batch.actor} (batch {batch.key})"[:255]
    if batch.kind == BatchOperation.Kind.CANCEL_PROCESS_INSTANCE:
        cancel_instance(batch.tenant, key, actor, now)
        return
    incident = Incident.objects.filter(tenant_id=batch.tenant_id, key=key).only("job_key", "error_type").first()
    if incident is not None and incident.job_key and incident.error_type == "JOB_NO_RETRIES":
        retries = Job.objects.filter(key=incident.job_key).values_list("retries", flat=True).first()
        if not retries or retries <= 0:
            update_job([batch.tenant_id], incident.job_key, 1, None, actor, now)  # the job runs once more
    resolve_incident([batch.tenant_id], key, actor, now)
