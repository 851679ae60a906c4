"""The engine loop: claim pending commands, apply them instance by instance, flush in bulk.

One batch = one transaction. Instances are locked (`FOR UPDATE SKIP LOCKED`) before
their commands are read, so any number of workers can drain at once without two of
them ever applying commands of the same instance concurrently.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from engine.definitions.cache import definition as cached_definition
from engine.definitions.cache import graph_of
from engine.keys import KeySource, key_taker
from engine.models import Command, ElementInstance, Event, Incident, Job, ProcessInstance, Variable
from engine.runtime import batch_metrics, budget, extra_rows, traced
from engine.runtime.errors import CommandRejected
from engine.runtime.state import InstanceRun
from engine.store import flush, sql
from engine.store.notify import notify_batch
from engine.store.rows import new_row
from engine.store.wake import wake_every_worker

log = logging.getLogger("flowsync.engine")

PENDING = Command.State.PENDING
ACTIVATABLE = str(Job.State.ACTIVATABLE.value)
OPEN_JOB_STATES = (Job.State.ACTIVATABLE, Job.State.ACTIVATED, Job.State.FAILED)
TABLES = InstanceRun.TABLES


def drain(batch_size: int | None = None, max_batches: int | None = None, stopped: threading.Event | None = None) -> int:
    """Apply pending commands until none is left (or max_batches, or `stopped` is set between batches).

    A batch that took every pending command it could see, applied them all and wrote no new ones
    ends the drain without another claim: that claim found nothing at a low rate (a statement and
    a transaction per drain). A command committed meanwhile wakes the engine again (NOTIFY), and
    the sweep re-drives whatever a wake-up missed.
    """
    size = batch_size or settings.ENGINE_BATCH_SIZE
    total = 0
    batches = 0
    while (max_batches is None or batches < max_batches) and not (stopped is not None and stopped.is_set()):
        done, more = _batch(size)
        batches += 1
        total += done
        if done == 0 or not more:
            break
    return total


CLAIM = (
    # Oldest pending work first; instances another worker holds are skipped, not waited on.
    # 'PENDING' is a literal so that the prepared statement's generic plan uses the partial index.
    "key IN (SELECT process_instance_key FROM engine_command WHERE state = 'PENDING' ORDER BY id LIMIT %s) "
    "ORDER BY key LIMIT %s FOR UPDATE SKIP LOCKED"
)


def _claim(limit: int) -> list[ProcessInstance]:
    def queryset():  # type: ignore[no-untyped-def]
        candidates = Command.objects.filter(state=PENDING).order_by("id").values("process_instance_key")[: limit * 4]
        return ProcessInstance.objects.select_for_update(skip_locked=True).filter(key__in=candidates).order_by(
            "key")[:limit]

    read = sql.Read(ProcessInstance, CLAIM, (limit * 4, limit), queryset)
    sql.fetch(read)
    return read.rows


def process_batch(limit: int) -> int:
    """One batch (one transaction); the number of commands it applied."""
    return _batch(limit)[0]


def _batch(limit: int) -> tuple[int, bool]:
    """One batch: (commands applied, whether more may be pending: see `drain`)."""
    # A batch allocates tens of thousands of short-lived, acyclic objects: the cyclic
    # collector would run hundreds of times for nothing. Reference counting frees them.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    done = 0
    try:
        done, more = _process_batch(limit)
        return done, more
    finally:
        traced.batch_ended(done)
        batch_metrics.progress.batch = 0
        if gc_was_enabled:
            gc.enable()


def _process_batch(limit: int) -> tuple[int, bool]:
    with transaction.atomic():
        instances = _claim(limit)
        if not instances:
            return 0, False
        traced.batch_started(len(instances))  # a span for the batch when tracing is on (ended by process_batch)
        keys = [pi.key for pi in instances]
        read = sql.Read(
            Command,
            "state = %s AND process_instance_key = ANY(%s::bigint[]) ORDER BY id",
            (PENDING, sql.bigint_array(keys)),
            lambda: Command.objects.filter(state=PENDING, process_instance_key__any=keys).order_by("id"),
        )
        sql.fetch(read)
        commands = read.rows
        # An instance's CONTINUE goes before its other commands: a yielded command finishes first.
        commands.sort(key=lambda c: c.kind != budget.CONTINUE)
        settled = apply_commands(instances, commands)
        # A full claim may have left instances (or their commands beyond the candidates) behind.
        full = len(instances) >= limit or len(commands) >= limit
        if len(instances) >= limit:
            # More work than one batch: wake every worker (a wake-up with a payload woke only this one),
            # so that a burst written in one transaction is drained side by side. Sent at commit.
            wake_every_worker()
        return len(commands), full or not settled


def apply_commands(instances: Iterable[ProcessInstance], commands: list[Command], replay: bool = False) -> bool:
    """Apply commands (already locked, in order) to their instances and write the results.

    True when the batch is settled: every command was applied (none left pending by the batch
    guard, a yield or a failed neighbour) and the batch wrote no commands of its own."""
    started = time.perf_counter()
    batch_metrics.progress.batch = len(commands)
    by_key = {pi.key: pi for pi in instances}
    runs = _load_runs(by_key, commands)
    failed: set[int] = set()
    events: list[Event] = []
    # Wall-clock bookkeeping for operators; processors only ever see cmd.created_at.
    processed_at = timezone.now()
    guard = budget.BatchGuard()
    take = key_taker()  # once per batch, not per command
    for cmd in commands:
        if not replay and guard.spent():
            break  # the batch ran long or large: the rest stays pending for the next one
        run = runs.get(cmd.process_instance_key)
        if run is None or cmd.process_instance_key in failed or run.yielded:
            continue  # a yielded instance's later commands wait for its CONTINUE
        run.now = cmd.created_at
        run.keys = KeySource(cmd.keys if replay else None, take)
        run.records = []
        try:
            traced.apply(run, cmd)  # processors.apply, in a span when tracing is on
        except CommandRejected as exc:
            cmd.state, cmd.error = Command.State.REJECTED, str(exc)
        except Exception:  # noqa: BLE001 - an engine bug must not lose the rest of the batch
            log.exception("command %s failed", cmd.id,
                          extra={"process_instance_key": cmd.process_instance_key, "command_key": cmd.id})
            # Discard everything this instance did in this batch; its other commands stay
            # pending and are applied again, without this one, in the next batch.
            failed.add(cmd.process_instance_key)
            cmd.state, cmd.error = Command.State.FAILED, traceback.format_exc()[-4000:]
            cmd.processed_at = processed_at
            continue
        else:
            cmd.state = Command.State.PROCESSED
        cmd.processed_at = processed_at
        cmd.keys = run.keys.runs
        guard.rows += len(run.records)
        events.append(
            new_row(
                Event,
                id=None,
                tenant_id=cmd.tenant_id,
                process_instance_key=cmd.process_instance_key,
                command_id=cmd.id,
                command_kind=cmd.kind,
                created_at=cmd.created_at,
                records=run.records,
            )
        )
    # A failed instance writes only its failing command; its other commands were never
    # written as processed, so they stay pending and run again next batch without it.
    done = [
        c
        for c in commands
        if c.state != PENDING and (c.process_instance_key not in failed or c.state == Command.State.FAILED)
    ]
    events = [e for e in events if e.process_instance_key not in failed]
    kept = [r for k, r in runs.items() if k not in failed]
    wrote_commands = _flush(kept, events, done, replay)
    if not replay:
        transaction.on_commit(lambda: _notify(kept))
        transaction.on_commit(lambda: batch_metrics.record(kept, done, time.perf_counter() - started))
    return len(done) == len(commands) and not wrote_commands


# Called after a batch commits with the job types that became activatable, per tenant: the
# built-in connectors' scheduler, installed by the engine app (engine/apps.py) because the
# connectors work jobs through the actions, a layer above the runtime.
_after_commit: list[Callable[[dict[int, set[str]]], None]] = []


def install_after_commit(listener: Callable[[dict[int, set[str]]], None]) -> None:
    if listener not in _after_commit:
        _after_commit.append(listener)


def _notify(runs: list[InstanceRun]) -> None:
    """Run built-in connectors; wake long-polling job activations and awaitCompletion requests (after commit)."""
    types: dict[int, set[str]] = {}
    for run in runs:
        created, dirty = run.created["jobs"], run.dirty["jobs"]
        if not (created or dirty):
            continue  # most runs of a batch of completions: no job made or changed here
        for job in (*created.values(), *dirty.values()):
            if job.state == ACTIVATABLE:
                types.setdefault(job.tenant_id, set()).add(job.type)
    for listener in _after_commit:
        listener(types)
    if not settings.REDIS_URL:
        return  # embedded mode: waiters re-check the database on their own
    notify_batch(types, [r.instance.key for r in runs if r.instance.state != ProcessInstance.State.ACTIVE],
                 [k for r in runs for k in r.settled_tasks])


def _load_runs(by_key: dict[int, ProcessInstance], commands: list[Command]) -> dict[int, InstanceRun]:
    """The open rows of these instances (and rows commands name), read in one round trip.

    An instance whose first command here is CREATE_INSTANCE has no rows yet (that command is only
    ever written with a new instance key, and a failed one leaves nothing behind). Its open
    elements are read (a stale copy of the command is refused when the instance has started),
    first and alone; its other rows are read only if it turns out to have started. A batch of
    starts reads one table instead of eight.
    """
    keys = list(by_key)
    first: dict[int, str] = {}
    for cmd in commands:
        first.setdefault(cmd.process_instance_key, cmd.kind)
    starting = {k for k in keys if first.get(k) == Command.Kind.CREATE_INSTANCE}
    job_keys = [int(c.payload["jobKey"]) for c in commands if "jobKey" in c.payload]
    active = ElementInstance.State.ACTIVE
    elements = sql.Read(
        ElementInstance,
        "process_instance_id = ANY(%s::bigint[]) AND state = %s ORDER BY key",
        (sql.bigint_array(keys), active),
        lambda: ElementInstance.objects.filter(process_instance_id__any=keys, state=active).order_by("key"),
    )
    if starting:
        sql.fetch(elements)
        started = {e.process_instance_id for e in elements.rows}
        keys = [k for k in keys if k not in starting or k in started]
    variables = sql.Read(
        Variable,
        "process_instance_id = ANY(%s::bigint[]) ORDER BY key",
        (sql.bigint_array(keys),),
        lambda: Variable.objects.filter(process_instance_id__any=keys).order_by("key"),
    )
    jobs = sql.Read(
        Job,
        "(process_instance_key = ANY(%s::bigint[]) AND state = ANY(%s::text[])) OR key = ANY(%s::bigint[]) "
        "ORDER BY key FOR UPDATE",
        (sql.bigint_array(keys), list(OPEN_JOB_STATES), sql.bigint_array(job_keys)),
        lambda: Job.objects.select_for_update()
        .filter(Q(process_instance_key__any=keys, state__in=OPEN_JOB_STATES) | Q(key__any=job_keys))
        .order_by("key"),
    )
    # Only instances flagged with an incident have active ones: the flag is set with every incident
    # (InstanceRun.add_incident) and cleared only when none is left active.
    troubled = [k for k in keys if by_key[k].has_incident]
    incidents = sql.Read(
        Incident,
        "process_instance_key = ANY(%s::bigint[]) AND state = %s ORDER BY key",
        (troubled, Incident.State.ACTIVE),
        lambda: Incident.objects.filter(process_instance_key__any=troubled, state=Incident.State.ACTIVE)
        .order_by("key"),
    )
    # Looked up once per definition in the batch, not per instance (each lookup takes the cache's lock).
    definitions = {d: cached_definition(d) for d in {pi.definition_id for pi in by_key.values()}}
    graph_by_definition = {d: graph_of(definition) for d, definition in definitions.items()}
    graphs = {key: graph_by_definition[pi.definition_id] for key, pi in by_key.items()}
    extra = extra_rows.reads(keys, commands, graphs)  # user tasks and wait states
    more = [incidents, *extra] if troubled else extra
    if not starting:
        sql.fetch(elements, variables, jobs, *more)
    elif keys or job_keys:
        sql.fetch(variables, jobs, *more)
    grouped = [
        _by_instance(elements.rows, "process_instance_id"),
        _by_instance(variables.rows, "process_instance_id"),
        _by_instance(jobs.rows, "process_instance_key"),
        _by_instance(incidents.rows, "process_instance_key"),
    ]
    runs = {}
    for key, pi in by_key.items():
        run = InstanceRun(pi, definitions[pi.definition_id], graphs[key])
        run.load(*(rows.get(key, ()) for rows in grouped))
        runs[key] = run
    extra_rows.load(runs, extra)
    return runs


def _by_instance(rows: list, attname: str) -> dict[int, list]:
    out: dict[int, list] = {}
    for row in rows:
        out.setdefault(getattr(row, attname), []).append(row)
    return out


def _flush(runs: list[InstanceRun], events: list[Event], commands: list[Command], replay: bool) -> bool:
    """Write the batch; True when it wrote commands (to other instances, CONTINUE, signals, messages)."""
    created: dict[str, list] = {t: [] for t in TABLES}
    dirty: dict[str, list] = {t: [] for t in TABLES}
    for run in runs:  # one pass over the runs, not one per table (most of a run's tables are empty)
        for table, rows in run.created.items():
            if rows:
                created[table].extend(rows.values())
        for table, rows in run.dirty.items():
            if rows:
                dirty[table].extend(rows.values())
    writes = flush.Writes()
    writes.insert(ElementInstance, created["elements"])
    writes.insert(Variable, created["variables"])
    writes.insert(Job, created["jobs"])
    writes.insert(Incident, created["incidents"])
    writes.update(ElementInstance, dirty["elements"], ["state", "end_date", "data", "incident_key"])
    writes.update(Variable, dirty["variables"], ["value"])
    writes.update(Job, dirty["jobs"], ["state", "retries", "error_message", "backoff_until", "deadline", "worker"])
    writes.update(Incident, dirty["incidents"], ["state", "resolved_at"])
    writes.update(ProcessInstance, [r.instance for r in runs if r.instance_dirty],
                  ["state", "end_date", "has_incident"])
    writes.insert(Event, events)
    if not replay:
        writes.update(Command, commands, ["state", "processed_at", "keys", "error"])
    extra_rows.queue(runs, replay, created, dirty, writes)  # user tasks, wait states, decisions
    writes.send()
    # candidate rows, call-activity children, commands to other instances, buffered messages, signals
    return extra_rows.flush(runs, replay)
