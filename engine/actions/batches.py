"""Operations over many rows (cancel instances, resolve incidents, retry jobs) as background jobs.

`start_batch` checks the right, stores the batch and queues one RQ job (on the engine workers'
"connectors" queue; inline in embedded mode, or when Redis refuses). `run_batch` calls the same
action per key, each in its own transaction, as the operator who started it (audit: who, via,
request id), and records progress and the outcome: done, skipped (nothing to do — already so)
or failed (with the problem's detail). Running a batch again only handles keys it has not
handled yet, and running a new batch over the same rows skips what is already done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from engine import rights
from engine.actions.incidents import resolve_incident
from engine.actions.instances import cancel_instance
from engine.actions.jobs import update_job
from engine.audit import Actor, acting, current
from engine.errors import ActionError, InvalidInput
from engine.models import BatchOperation, Command, Incident, Job, ProcessInstance
from engine.rights import Right
from flowsync import redis
from flowsync.models import Tenant

log = logging.getLogger(__name__)
QUEUE = "connectors"  # served by every engine worker (engine_worker runs an RQ worker on it)
PROGRESS_EVERY = 10


def start_batch(
    tenant: Tenant, role: str | rights.Rights | None, kind: str, keys: list[int], actor: str,
    params: dict | None = None, *, queue: bool = True,
) -> BatchOperation:
    """Store and queue a batch (queue=False: the caller runs it); Forbidden unless `role` may operate there
    (given `Rights` with per-process grants, the caller has kept only keys of processes it may operate on)."""
    if isinstance(role, rights.Rights):
        if not role.anywhere(Right.OPERATE):
            rights.require(role.role, Right.OPERATE, "operate on instances, incidents or jobs")
    else:
        rights.require(role, Right.OPERATE, "operate on instances, incidents or jobs")
    if kind == BatchOperation.Kind.RETRY_JOBS:
        retries = (params or {}).get("retries")
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 1:
            raise InvalidInput("retries must be a whole number of at least 1")
    ctx = current()
    batch = BatchOperation.objects.create(
        tenant=tenant, kind=kind, keys=[str(k) for k in dict.fromkeys(keys)], params=params or {}, actor=str(actor),
        user_id=getattr(actor, "user_id", None), via=ctx.via if ctx else "other",
        request_id=ctx.request_id if ctx else "", created_at=timezone.now(),
    )
    if queue:
        transaction.on_commit(lambda: _queue(batch.pk))
    return batch


def _queue(batch_id: int) -> None:
    if settings.ENGINE_INLINE:
        run_batch(batch_id)
        return
    try:
        redis.queue(QUEUE).enqueue("engine.actions.batches.run_batch", batch_id, result_ttl=0, failure_ttl=86400,
                                   job_timeout=3600)
    except Exception as exc:  # noqa: BLE001 - Redis only helps: the batch then runs here and now
        log.warning("could not queue batch %s through Redis (%s); running it inline", batch_id, exc)
        run_batch(batch_id)


def _pending(tenant_id: int, kind: str, **payload: str) -> bool:
    return Command.objects.filter(tenant_id=tenant_id, kind=kind, state=Command.State.PENDING,
                                  **{f"payload__{k}": v for k, v in payload.items()}).exists()


# Each kind: why a key needs nothing (None: act on it), and the act itself (the engine's action).
def _cancel_skip(batch: BatchOperation, key: int) -> str | None:
    state = ProcessInstance.objects.filter(tenant_id=batch.tenant_id, key=key).values_list("state", flat=True).first()
    if state is not None and state != ProcessInstance.State.ACTIVE:
        return f"already {state}"
    if state is not None and Command.objects.filter(tenant_id=batch.tenant_id, process_instance_key=key,
                                                    kind=Command.Kind.CANCEL_INSTANCE,
                                                    state=Command.State.PENDING).exists():
        return "cancellation already requested"
    return None


def _cancel(batch: BatchOperation, key: int, actor: str) -> None:
    cancel_instance(batch.tenant, key, actor, timezone.now())


def _resolve_skip(batch: BatchOperation, key: int) -> str | None:
    state = Incident.objects.filter(tenant_id=batch.tenant_id, key=key).values_list("state", flat=True).first()
    if state is not None and state != Incident.State.ACTIVE:
        return f"already {state}"
    if state is not None and _pending(batch.tenant_id, Command.Kind.RESOLVE_INCIDENT, incidentKey=str(key)):
        return "resolution already requested"
    return None


def _resolve(batch: BatchOperation, key: int, actor: str) -> None:
    resolve_incident([batch.tenant_id], key, actor, timezone.now())


def _retry_skip(batch: BatchOperation, key: int) -> str | None:
    job = Job.objects.filter(tenant_id=batch.tenant_id, key=key).only("state", "retries").first()
    if job is None:
        return None  # the action says "not found"
    if job.state in (Job.State.COMPLETED, Job.State.CANCELED, Job.State.ERROR_THROWN):
        return f"already {job.state}"
    open_incident = Incident.objects.filter(tenant_id=batch.tenant_id, job_key=key, state=Incident.State.ACTIVE)
    if job.retries == batch.params["retries"] and not open_incident.exists():
        return f"already has {job.retries} retries"
    return None


def _retry(batch: BatchOperation, key: int, actor: str) -> None:
    """New retries, and the job's incident resolved so the engine offers the job again."""
    with transaction.atomic():
        update_job([batch.tenant_id], key, int(batch.params["retries"]), None, actor, timezone.now())
        incident = Incident.objects.filter(tenant_id=batch.tenant_id, job_key=key,
                                           state=Incident.State.ACTIVE).values_list("key", flat=True).first()
        if incident is not None and not _pending(batch.tenant_id, Command.Kind.RESOLVE_INCIDENT,
                                                 incidentKey=str(incident)):
            resolve_incident([batch.tenant_id], incident, actor, timezone.now())


Skip = Callable[[BatchOperation, int], "str | None"]
Step = Callable[[BatchOperation, int, str], None]
STEPS: dict[str, tuple[Skip, Step]] = {
    BatchOperation.Kind.CANCEL_INSTANCES: (_cancel_skip, _cancel),
    BatchOperation.Kind.RESOLVE_INCIDENTS: (_resolve_skip, _resolve),
    BatchOperation.Kind.RETRY_JOBS: (_retry_skip, _retry),
}


def run_batch(batch_id: int) -> BatchOperation:
    """The background job: handle every key not handled yet, saving progress as it goes."""
    batch = BatchOperation.objects.select_related("tenant").get(pk=batch_id)
    skip, step = STEPS[batch.kind]
    actor = Actor(batch.actor, user_id=batch.user_id)
    handled = set(batch.done) | set(batch.skipped) | set(batch.failed)
    batch.state = BatchOperation.State.RUNNING
    batch.save(update_fields=["state"])
    with acting(batch.via, batch.request_id, batch.user_id):
        for n, key in enumerate(k for k in batch.keys if k not in handled):
            try:
                why = skip(batch, int(key))
                if why is not None:
                    batch.skipped[key] = why
                else:
                    step(batch, int(key), actor)
                    batch.done.append(key)
            except ActionError as exc:
                batch.failed[key] = exc.detail
            except Exception as exc:  # noqa: BLE001 - one bad row must not stop the rest
                log.exception("batch %s: %s failed", batch.pk, key)
                batch.failed[key] = f"unexpected error: {exc}"
            if n % PROGRESS_EVERY == PROGRESS_EVERY - 1:
                batch.save(update_fields=["done", "skipped", "failed"])
    batch.state, batch.finished_at = BatchOperation.State.DONE, timezone.now()
    batch.save(update_fields=["done", "skipped", "failed", "state", "finished_at"])
    return batch
