"""Operations over many rows as background jobs — the one mechanism the admin, the CLI, the
Inspector and the API (`/v2/batch-operations`, the process-instance batch endpoints) all use.

Kinds: cancel instances, resolve incidents (with `retries`: jobs out of retries get them first — the
Inspector's "Retry"), retry jobs, migrate instances (one migration plan),
modify instances (the same move instructions for all), set variables (the same values on every
instance's root scope). `start_batch` checks the right and the parameters (a plan is checked for
shape here and per instance when it runs), stores the batch with its keys (chosen one by one or
by a filter, resolved when the batch is created, as Camunda does) and queues one RQ job (on the
engine workers' "connectors" queue; inline in embedded mode, or when Redis refuses).

`run_batch` calls the same action per key, each in its own transaction, as the operator who
started it (audit: who, via, request id), and records progress and the outcome: done, skipped
(nothing to do — already so) or failed (with the problem's detail). It looks at the batch's
state every PROGRESS_EVERY keys: a suspended or cancelled batch stops there. Running a batch
again (resume, re-run) only handles keys it has not handled yet, and a new batch over the same
rows skips what is already done — an instance is never acted on twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from engine import rights
from engine.actions.incidents import resolve_incident, retry_incident
from engine.actions.instances import cancel_instance
from engine.actions.jobs import update_job
from engine.actions.migration import migrate_instance
from engine.actions.modification import Modification, Move, modify_instance
from engine.actions.variables import set_variables
from engine.audit import Actor, acting, current, record
from engine.errors import ActionError, Conflict, InvalidInput
from engine.models import (
    BatchOperation,
    Command,
    ElementInstance,
    Incident,
    Job,
    ProcessDefinition,
    ProcessInstance,
    Variable,
)
from engine.rights import Right
from flowsync import redis
from flowsync.models import Tenant

log = logging.getLogger(__name__)
QUEUE = "connectors"  # served by every engine worker (engine_worker runs an RQ worker on it)
PROGRESS_EVERY = 10
STALE_SECONDS = 300  # a runner that saved no progress for this long is presumed dead (progress every 10 keys)
MAX_KEYS = 100_000  # a bigger selection is refused: narrow the filter (keys are stored with the batch)


def _check_params(tenant: Tenant, kind: str, params: dict) -> None:
    """Refuse parameters no key could use (400), before anything is stored."""
    if kind == BatchOperation.Kind.RETRY_JOBS or (kind == BatchOperation.Kind.RESOLVE_INCIDENTS
                                                  and "retries" in params):
        retries = params.get("retries")
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 1:
            raise InvalidInput("retries must be a whole number of at least 1")
    elif kind == BatchOperation.Kind.MIGRATE_INSTANCES:
        target = params.get("targetProcessDefinitionKey")
        if not str(target or "").isdigit() or not ProcessDefinition.objects.filter(
                tenant=tenant, key=int(target)).exists():
            raise InvalidInput(f"no process definition with key {target} to migrate to")
        mapping = params.get("mappingInstructions")
        if not isinstance(mapping, list) or not all(
                isinstance(m, dict) and isinstance(m.get("sourceElementId"), str)
                and isinstance(m.get("targetElementId"), str) for m in mapping):
            raise InvalidInput("mappingInstructions must be a list of {sourceElementId, targetElementId}")
    elif kind == BatchOperation.Kind.MODIFY_INSTANCES:
        moves = params.get("moveInstructions")
        if not isinstance(moves, list) or not moves or not all(
                isinstance(m, dict) and isinstance(m.get("sourceElementId"), str) and m["sourceElementId"]
                and isinstance(m.get("targetElementId"), str) and m["targetElementId"] for m in moves):
            raise InvalidInput("moveInstructions must be a non-empty list of {sourceElementId, targetElementId}")
    elif kind == BatchOperation.Kind.SET_VARIABLES:
        variables = params.get("variables")
        if not isinstance(variables, dict) or not variables:
            raise InvalidInput("variables must be a non-empty JSON object")


def start_batch(
    tenant: Tenant, role: str | rights.Rights | None, kind: str, keys: list[int], actor: str,
    params: dict | None = None, *, queue: bool = True, selection: dict | None = None,
) -> BatchOperation:
    """Store and queue a batch (queue=False: the caller runs it); Forbidden unless `role` may operate there
    (given `Rights` with per-process grants, the caller has kept only keys of processes it may operate on)."""
    if isinstance(role, rights.Rights):
        if not role.anywhere(Right.OPERATE):
            rights.require(role.role, Right.OPERATE, "operate on instances, incidents or jobs")
    else:
        rights.require(role, Right.OPERATE, "operate on instances, incidents or jobs")
    if kind not in BatchOperation.Kind.values:
        raise InvalidInput(f"unknown batch operation kind '{kind}'")
    _check_params(tenant, kind, params or {})
    unique = [str(k) for k in dict.fromkeys(keys)]
    if len(unique) > MAX_KEYS:
        raise InvalidInput(f"the selection has {len(unique)} items; a batch takes at most {MAX_KEYS} (narrow it)")
    ctx = current()
    now = timezone.now()
    batch = BatchOperation.objects.create(
        tenant=tenant, kind=kind, keys=unique, params=params or {}, actor=str(actor),
        user_id=getattr(actor, "user_id", None), via=ctx.via if ctx else "other",
        request_id=ctx.request_id if ctx else "", created_at=now, selection=selection or {},
    )
    record(tenant, actor, "batch.create", target_type="batch-operation", target_key=batch.pk,
           after={"kind": kind, "count": len(unique), "params": params or {}, "selection": selection or {}}, now=now)
    if queue:
        transaction.on_commit(lambda: _queue(batch.pk))
    return batch


def _transition(batch: BatchOperation, actor: str, what: str, allowed: tuple[str, ...], to: str) -> None:
    changed = BatchOperation.objects.filter(pk=batch.pk, state__in=allowed).update(state=to)
    if not changed:
        batch.refresh_from_db(fields=["state"])
        raise Conflict(f"batch operation {batch.pk} is {batch.state}; it cannot be {what}")
    batch.state = to
    record(batch.tenant_id, actor, f"batch.{what.split()[0]}", target_type="batch-operation", target_key=batch.pk,
           after={"state": to}, now=timezone.now())


def cancel_batch(batch: BatchOperation, role: str | None, actor: str) -> None:
    """Stop for good (the running job stops at its next checkpoint); what was done stays done."""
    rights.require(role, Right.OPERATE, "cancel batch operations")
    _transition(batch, actor, "cancelled", (BatchOperation.State.QUEUED, BatchOperation.State.RUNNING,
                                           BatchOperation.State.SUSPENDED), BatchOperation.State.CANCELED)


def suspend_batch(batch: BatchOperation, role: str | None, actor: str) -> None:
    rights.require(role, Right.OPERATE, "suspend batch operations")
    _transition(batch, actor, "suspended", (BatchOperation.State.QUEUED, BatchOperation.State.RUNNING),
                BatchOperation.State.SUSPENDED)


def resume_batch(batch: BatchOperation, role: str | None, actor: str) -> None:
    """Queue a suspended batch again; handled keys are skipped. (A batch whose worker died is queued
    again by the engine workers' sweep, `requeue_stale`.)"""
    rights.require(role, Right.OPERATE, "resume batch operations")
    _transition(batch, actor, "resumed", (BatchOperation.State.SUSPENDED,), BatchOperation.State.QUEUED)
    transaction.on_commit(lambda: _queue(batch.pk))


def rerun_failed(batch: BatchOperation, role: str | None, actor: str) -> None:
    """Try the failed keys of a finished batch again (the others stay handled)."""
    rights.require(role, Right.OPERATE, "re-run batch operations")
    if not batch.failed:
        raise Conflict(f"batch operation {batch.pk} has no failed items to run again")
    _transition(batch, actor, "re-run", (BatchOperation.State.DONE,), BatchOperation.State.QUEUED)
    BatchOperation.objects.filter(pk=batch.pk).update(failed={}, finished_at=None)
    transaction.on_commit(lambda: _queue(batch.pk))


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
    waiting = ElementInstance.objects.filter(key=OuterRef("key"), data__has_key="terminating")
    found = (ProcessInstance.objects.filter(tenant_id=batch.tenant_id, key=key)
             .annotate(canceling=Exists(waiting)).values_list("state", "canceling").first())
    state, canceling = found if found is not None else (None, False)
    if state is not None and state != ProcessInstance.State.ACTIVE:
        return f"already {state}"
    if canceling:
        return "being canceled already (waits for canceling task listeners)"
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
    """With `retries` (the Inspector's "Retry"): a job out of retries gets them first, as Operate does;
    without (Camunda's resolve-incidents batch): such an incident fails with the reason."""
    if "retries" in batch.params:
        retry_incident([batch.tenant_id], key, int(batch.params["retries"]), actor, timezone.now())
    else:
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


def _not_active(batch: BatchOperation, key: int) -> str | None:
    state = ProcessInstance.objects.filter(tenant_id=batch.tenant_id, key=key).values_list("state", flat=True).first()
    return f"already {state}" if state is not None and state != ProcessInstance.State.ACTIVE else None


def _migrate_skip(batch: BatchOperation, key: int) -> str | None:
    why = _not_active(batch, key)
    if why:
        return why
    target = int(batch.params["targetProcessDefinitionKey"])
    if ProcessInstance.objects.filter(tenant_id=batch.tenant_id, key=key, definition_id=target).exists():
        return f"already on process definition {target}"
    if Command.objects.filter(tenant_id=batch.tenant_id, process_instance_key=key,
                              kind=Command.Kind.MIGRATE_INSTANCE, state=Command.State.PENDING).exists():
        return "migration already requested"
    return None


def _migrate(batch: BatchOperation, key: int, actor: str) -> None:
    mapping = [(m["sourceElementId"], m["targetElementId"]) for m in batch.params["mappingInstructions"]]
    migrate_instance([batch.tenant_id], key, int(batch.params["targetProcessDefinitionKey"]), mapping, actor,
                     timezone.now())


def _modify_skip(batch: BatchOperation, key: int) -> str | None:
    why = _not_active(batch, key)
    if why:
        return why
    sources = [m["sourceElementId"] for m in batch.params["moveInstructions"]]
    if not ElementInstance.objects.filter(process_instance_id=key, state=ElementInstance.State.ACTIVE,
                                          element_id__in=sources).exists():
        return f"no active instance of {', '.join(sources)}"
    return None


def _modify(batch: BatchOperation, key: int, actor: str) -> None:
    """Camunda's batch modification: move every active instance of each source that has one."""
    present = set(ElementInstance.objects.filter(process_instance_id=key, state=ElementInstance.State.ACTIVE)
                  .values_list("element_id", flat=True))
    moves = [Move(m["targetElementId"], source_element_id=m["sourceElementId"], ancestor="auto")
             for m in batch.params["moveInstructions"] if m["sourceElementId"] in present]
    modify_instance([batch.tenant_id], key, Modification(moves=moves), actor, timezone.now())


def _set_variables_skip(batch: BatchOperation, key: int) -> str | None:
    why = _not_active(batch, key)
    if why:
        return why
    wanted: dict = batch.params["variables"]
    have = dict(Variable.objects.filter(process_instance_id=key, scope_key=key, name__in=list(wanted))
                .values_list("name", "value"))
    if all(name in have and have[name] == value for name, value in wanted.items()):
        return "already set"
    return None


def _set_variables(batch: BatchOperation, key: int, actor: str) -> None:
    set_variables([batch.tenant_id], key, batch.params["variables"], True, actor, timezone.now())


Skip = Callable[[BatchOperation, int], "str | None"]
Step = Callable[[BatchOperation, int, str], None]
STEPS: dict[str, tuple[Skip, Step]] = {
    BatchOperation.Kind.CANCEL_INSTANCES: (_cancel_skip, _cancel),
    BatchOperation.Kind.RESOLVE_INCIDENTS: (_resolve_skip, _resolve),
    BatchOperation.Kind.RETRY_JOBS: (_retry_skip, _retry),
    BatchOperation.Kind.MIGRATE_INSTANCES: (_migrate_skip, _migrate),
    BatchOperation.Kind.MODIFY_INSTANCES: (_modify_skip, _modify),
    BatchOperation.Kind.SET_VARIABLES: (_set_variables_skip, _set_variables),
}


def _checkpoint(batch: BatchOperation, token: str) -> bool:
    """Save progress (only while this job is the batch's runner); False: stop here (suspended, cancelled,
    or taken over by another runner after this one went quiet)."""
    saved = BatchOperation.objects.filter(pk=batch.pk, runner=token).update(
        done=batch.done, skipped=batch.skipped, failed=batch.failed, heartbeat_at=timezone.now())
    if not saved:
        return False
    return BatchOperation.objects.filter(pk=batch.pk, state=BatchOperation.State.RUNNING).exists()


def run_batch(batch_id: int) -> BatchOperation:
    """The background job: handle every key not handled yet, saving progress as it goes."""
    batch = BatchOperation.objects.select_related("tenant").get(pk=batch_id)
    now = timezone.now()
    token = uuid.uuid4().hex
    # Claim it: a queued batch, or a running one whose runner went quiet (a crashed worker). A suspended,
    # cancelled or finished batch is left alone, and so is one another job runs (a duplicate queued job).
    claimable = Q(state=BatchOperation.State.QUEUED) | Q(
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - timedelta(seconds=STALE_SECONDS)),
        state=BatchOperation.State.RUNNING)
    if not BatchOperation.objects.filter(claimable, pk=batch.pk).update(
            state=BatchOperation.State.RUNNING, runner=token, heartbeat_at=now):
        return batch
    batch.refresh_from_db()  # progress a previous runner saved
    skip, step = STEPS[batch.kind]
    actor = Actor(batch.actor, user_id=batch.user_id)
    handled = set(batch.done) | set(batch.skipped) | set(batch.failed)
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
            if n % PROGRESS_EVERY == PROGRESS_EVERY - 1 and not _checkpoint(batch, token):
                batch.refresh_from_db(fields=["state"])
                return batch
    _checkpoint(batch, token)
    # Finished, unless an operator stopped it in the meantime (then its state stays theirs).
    BatchOperation.objects.filter(pk=batch.pk, runner=token, state=BatchOperation.State.RUNNING).update(
        state=BatchOperation.State.DONE, finished_at=timezone.now())
    batch.refresh_from_db(fields=["state", "finished_at"])
    return batch


def requeue_stale(now: datetime) -> int:
    """Queue again the batches nobody works on: running with a quiet runner (its worker died) or queued
    long ago (the Redis job was lost). Called by the engine workers' sweep; the claim in `run_batch`
    makes a duplicate job a no-op."""
    cutoff = now - timedelta(seconds=STALE_SECONDS)
    stale = list(BatchOperation.objects.filter(
        Q(state=BatchOperation.State.RUNNING, heartbeat_at__lt=cutoff)
        | Q(state=BatchOperation.State.QUEUED, created_at__lt=cutoff) & (
            Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=cutoff))).values_list("pk", flat=True)[:100])
    for pk in stale:
        # The heartbeat doubles as "queued again at": the next sweep waits another STALE_SECONDS.
        BatchOperation.objects.filter(pk=pk, state=BatchOperation.State.QUEUED).update(heartbeat_at=now)
        _queue(pk)
    return len(stale)
