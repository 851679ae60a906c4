"""Running connector jobs: scheduled after each engine batch and by the sweeper, run by RQ workers.

    schedule({tenant_id: {job types}})   after an engine batch committed (engine.runtime.loop._notify):
                                         one RQ job on the `connectors` queue, or inline in embedded mode
    schedule_pending(now)                from the sweeper: connector jobs that are runnable and that nobody
                                         runs (a dead worker's expired lock, a retry whose backoff is over)
    run_connectors(tenant_ids, now)      activate, run, complete/fail/throw until nothing is left

A run activates jobs through engine.actions.jobs.activate_jobs (worker "flowsync-connector",
lock CONNECTOR_LOCK_TIMEOUT_MS), reads their variables, runs the connectors on a thread pool
outside any transaction (connectors never touch the database), and reports each outcome through
complete_job, fail_job or throw_error. If the process dies in between, the lock expires, the
sweeper sees the job again and it is run again: connectors run at least once, and a job is
completed at most once (complete_job refuses a second completion).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone
from opentelemetry.trace import SpanKind

from engine import secrets
from engine.actions.jobs import (
    activate_any_with_locals,
    complete_job,
    complete_jobs,
    fail_job,
    throw_error,
    variables_for_jobs,
)
from engine.connectors import http, policy
from engine.connectors.base import ConnectorError, Invocation, Outcome
from engine.connectors.registry import TYPES, connector_for
from engine.connectors.results import decide
from engine.definitions.cache import definition, graph_of
from engine.errors import Conflict, NotFound
from engine.models import Job, StepLog
from flowsync import redis, tracing

log = logging.getLogger("flowsync.connectors")

WORKER = "flowsync-connector"
QUEUE = "connectors"
# Connector jobs run at once by one run (HTTP calls wait on the network, not the CPU).
CONCURRENCY = 8
# An RQ job stops taking new jobs after this long and hands the rest to a fresh RQ job, so that
# engine drains queued meanwhile are not kept waiting behind a long series of connector calls.
RUN_SECONDS = 60.0
# Without Redis the sweeper runs connector jobs itself, for at most this long per sweep.
SWEEPER_RUN_SECONDS = 10.0
# Set when the worker process is asked to stop: runs finish the calls they hold and take no more.
STOP = threading.Event()
# Set while an RQ job for the tenant waits in the queue; cleared when it starts looking for work.
QUEUED_FLAG = "flowsync:connectors:queued:{tenant_id}"
QUEUED_FLAG_SECONDS = 120

_inline = threading.local()


def lock_timeout_ms() -> int:
    return int(settings.CONNECTOR_LOCK_TIMEOUT_MS)


def budget_seconds() -> float:
    """The time a connector call may take: with connect and read timeouts both capped to it, a call
    ends before 80% of the lock has passed, so a live run never loses its job to another."""
    return lock_timeout_ms() / 1000 * 0.4


# --- scheduling ---------------------------------------------------------------------------------------


def schedule(tenant_job_types: dict[int, set[str]]) -> None:
    """Jobs of these types became activatable (after commit): run the connector ones. Never raises."""
    tenants = sorted(t for t, types in tenant_job_types.items() if not TYPES.isdisjoint(types))
    if tenants:
        _start(tenants)  # Redis down: the sweeper finds the jobs in PostgreSQL


def _start(tenants: list[int]) -> bool:
    """Run the tenants' connector jobs inline (embedded mode), on this engine worker's connector thread, or
    queue one RQ job; False if Redis refused."""
    if settings.ENGINE_INLINE:
        _run_inline(tenants)
        return True
    if _local is not None:
        _local.wake(tenants)
        return True
    try:
        enqueue(tenants)
    except Exception as exc:  # noqa: BLE001 - callers fall back on PostgreSQL
        log.warning("could not queue connector jobs through Redis (%s)", exc)
        return False
    return True


def enqueue(tenant_ids: Iterable[int]) -> None:
    conn = redis.connection(QUEUE)
    wanted = [t for t in tenant_ids if conn.set(QUEUED_FLAG.format(tenant_id=t), "1", nx=True,
                                                ex=QUEUED_FLAG_SECONDS)]
    if wanted:
        # At once, like the flag: enqueueing on a later commit could leave a flag without its job.
        redis.queue(QUEUE).enqueue(
            "engine.connectors.runner.connector_job", wanted, result_ttl=0, failure_ttl=3600,
            job_timeout=int(RUN_SECONDS + lock_timeout_ms() / 1000 + 60),
        )


def schedule_pending(now: datetime) -> None:
    """Sweeper: schedule connector jobs that are runnable but that no run holds. Never raises."""
    try:
        ready = Q(state=Job.State.ACTIVATABLE) & (Q(backoff_until__isnull=True) | Q(backoff_until__lte=now))
        expired = Q(state=Job.State.ACTIVATED, deadline__lt=now)
        tenants = sorted(
            Job.objects.filter(ready | expired, type__in=TYPES).values_list("tenant_id", flat=True).distinct()
        )
        if tenants and not _start(tenants):
            # Redis down: PostgreSQL alone must still make progress, so the sweeper runs them itself.
            run_connectors(tenants, deadline=time.monotonic() + SWEEPER_RUN_SECONDS)
    except Exception:  # noqa: BLE001 - the sweeper's other work must go on
        log.exception("could not schedule pending connector jobs")


def _run_inline(tenants: list[int]) -> None:
    """Embedded mode: run right after the commit, in this process. A completion drains the engine,
    whose commit calls schedule() again: that nested call only adds to the tenants of this loop."""
    pending: set[int] | None = getattr(_inline, "pending", None)
    if pending is not None:
        pending.update(tenants)
        return
    _inline.pending = pending = set(tenants)
    try:
        while pending:
            batch = sorted(pending)
            pending.clear()
            run_connectors(batch)
    except Exception:  # noqa: BLE001 - must not fail the caller's request; locks expire, jobs run again
        log.exception("connector run failed")
    finally:
        _inline.pending = None


class _LocalRunner(threading.Thread):
    """An engine worker's own connector runs: the jobs its batches (and its sweeps) make runnable are run by
    this thread, woken after the commit, instead of an RQ job per batch (enqueueing, dequeueing and RQ's
    bookkeeping cost more CPU than a small batch's connector calls). Durability is the job rows': if the
    process dies, their locks expire and another worker's sweep runs them again."""

    def __init__(self) -> None:
        super().__init__(name="flowsync-connectors", daemon=True)
        self._lock = threading.Lock()
        self._wanted: set[int] = set()
        self._woken = threading.Event()
        self._signal: Future[None] | None = None
        self.stopped = threading.Event()  # this runner alone (STOP stops every run of the process)

    def wake(self, tenants: Iterable[int]) -> None:
        with self._lock:
            self._wanted.update(tenants)
            self._woken.set()
            if self._signal is not None and not self._signal.done():
                self._signal.set_result(None)

    def take(self) -> list[int]:
        """The tenants woken since the last take (cleared with the event, so a later wake is never missed)."""
        with self._lock:
            taken = sorted(self._wanted)
            self._wanted.clear()
            self._woken.clear()
            return taken

    def signal(self) -> Future[None]:
        """Done at the next wake (at once if one is waiting): a run waiting for its calls waits for it too."""
        with self._lock:
            if self._signal is None or self._signal.done():
                self._signal = Future()
            if self._wanted:
                self._signal.set_result(None)
            return self._signal

    def run(self) -> None:
        from django.db import connections

        try:
            while not (STOP.is_set() or self.stopped.is_set()):
                self._woken.wait(timeout=1.0)
                tenants = self.take()
                if not tenants:
                    continue
                _drop_broken_connections()
                try:
                    run_connectors(tenants, woken=self)
                except Exception:  # noqa: BLE001 - the locks expire and the sweep wakes this thread again
                    log.exception("connector run failed")
                finally:
                    _drop_broken_connections()
        finally:
            connections.close_all()  # this thread's session


_local: _LocalRunner | None = None


def run_in_this_process() -> None:
    """Engine workers: run the connector jobs that this process schedules on its own thread (see _LocalRunner)."""
    global _local
    if _local is None:
        _local = _LocalRunner()
        _local.start()


def stop_local(timeout: float) -> None:
    """After STOP: wait for this process's connector run to report the calls it holds."""
    if _local is not None:
        _local.join(timeout)


def connector_job(tenant_ids: list[int]) -> int:
    """The RQ job: clear the queued flags, then run what there is; hand over what is left after RUN_SECONDS."""
    try:
        redis.connection(QUEUE).delete(*[QUEUED_FLAG.format(tenant_id=t) for t in tenant_ids])
    except Exception:  # noqa: BLE001 - running from PostgreSQL works without Redis
        pass
    # An RQ worker has no request signals: drop a connection a database restart broke (health
    # checked), or every later job of this process would fail on it too.
    _drop_broken_connections()
    deadline = time.monotonic() + RUN_SECONDS
    try:
        ran = run_connectors(tenant_ids, deadline=deadline)
    finally:
        _drop_broken_connections()
    if time.monotonic() >= deadline:
        enqueue(tenant_ids)  # maybe more: the next RQ job finds out
    return ran


def _drop_broken_connections() -> None:
    """What Django does around a request: close a connection that failed (health checked) or aged out."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:  # a caller's transaction (tests call jobs directly) is left alone
            conn.close_if_unusable_or_obsolete()


# --- running ------------------------------------------------------------------------------------------


def run_connectors(tenant_ids: list[int], now: datetime | None = None, deadline: float | None = None,
                   woken: _LocalRunner | None = None) -> int:
    """Activate and run the tenants' runnable connector jobs until none is left; return how many ran.

    Up to CONCURRENCY calls are in flight; whenever some finish, their outcomes are reported together
    (completions in one statement) and free places are filled again, so one slow call does not
    hold back the rest. `now` is the clock for tests (activation, lock deadlines, backoff); by
    default the wall clock. `woken` (an engine worker's own runs) tells of the tenants scheduled
    meanwhile, also while calls are in flight. Every new connector job is scheduled after its commit,
    so once an activation found fewer jobs than it had room for, another one finds nothing new until
    `woken` says so (the activation that finds nothing was a statement per run).
    """
    total = 0
    running: dict[Future[Outcome], Job] = {}
    pool = _executor()
    tenants = list(tenant_ids)
    look = True
    while True:
        if woken is not None:
            more = woken.take()
            if more:
                tenants, look = sorted({*tenants, *more}), True
        room = CONCURRENCY - len(running)
        if look and room > 0 and (deadline is None or time.monotonic() < deadline) and not STOP.is_set():
            at = now or timezone.now()
            jobs, local = activate_any_with_locals(tenants, ACTIVATED_TYPES, WORKER, lock_timeout_ms(), room, at)
            _publish_lag(jobs, at)
            for job, inv in zip(jobs, _invocations(jobs, at, local), strict=True):
                running[pool.submit(_traced, *_with_secrets(job, inv), job.traceparent)] = job
            total += len(jobs)
            look = woken is None or len(jobs) == room
        if not running:
            if look and woken is not None and not STOP.is_set():
                continue  # the last activation was full: there may be more
            if woken is not None:
                _publish_lag([], now or timezone.now())  # nothing waits (no last, empty activation says so)
            return total
        finished, _ = wait([*running, woken.signal()] if woken is not None else running, return_when=FIRST_COMPLETED)
        _report_all([(running.pop(future), future.result()) for future in finished if future in running], now)


# How long the jobs a connector run takes have waited (a first attempt: since the engine created it), in
# seconds, for engine/backpressure.py: built-in connectors are part of the engine's pipeline, and when
# they fall behind, new runs queue as jobs where the pending commands do not show it.
LAG_KEY = "flowsync:connectors:lag"
LAG_SECONDS_KEPT = 5


# After Redis failed, the lag is left alone this long (a hung Redis must not slow every run and request).
LAG_QUIET_SECONDS = 5.0
_lag_quiet_until = 0.0


# A lag within this much of the one this process published less than LAG_REPUBLISH_SECONDS ago is not sent
# again (a Redis round trip per activation; backpressure's threshold is in seconds).
LAG_STEP_SECONDS = 0.05
LAG_REPUBLISH_SECONDS = 1.0
_lag_sent = (-1.0, 0.0)  # (lag, monotonic time) this process published last


def _publish_lag(jobs: list[Job], now: datetime) -> None:
    """Tell the API how far behind the connectors are (0 once nothing waits). Never raises."""
    global _lag_quiet_until, _lag_sent
    if not settings.REDIS_URL or time.monotonic() < _lag_quiet_until:
        return
    lag = max([0.0, *((now - job.created_at).total_seconds() for job in jobs if job.failures == 0)])
    sent, at = _lag_sent
    if abs(lag - sent) < LAG_STEP_SECONDS and time.monotonic() - at < LAG_REPUBLISH_SECONDS:
        return
    try:
        redis.connection(QUEUE).set(LAG_KEY, f"{lag:.3f}", ex=LAG_SECONDS_KEPT)
        _lag_sent = (lag, time.monotonic())
    except Exception:  # noqa: BLE001 - backpressure then sees the pending commands only
        _lag_quiet_until = time.monotonic() + LAG_QUIET_SECONDS


def lag_seconds() -> float:
    """The connectors' latest published lag (0 when none was published lately or Redis is not there)."""
    global _lag_quiet_until
    if not settings.REDIS_URL or time.monotonic() < _lag_quiet_until:
        return 0.0
    try:
        return float(redis.connection(QUEUE).get(LAG_KEY) or 0.0)
    except Exception:  # noqa: BLE001 - backpressure then sees the pending commands only
        _lag_quiet_until = time.monotonic() + LAG_QUIET_SECONDS
        return 0.0


# Sorted: the activation statement is prepared once per process.
ACTIVATED_TYPES = sorted(TYPES)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """The process's connector threads, kept between runs (starting 8 threads per run cost ~1 ms of CPU
    per job). Room for a few runs at once (embedded mode, the sweeper without Redis), so that a job
    never waits for a thread longer than another call's budget."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=4 * CONCURRENCY, thread_name_prefix="connector")
        return _pool


def _report_all(results: list[tuple[Job, Outcome]], now: datetime | None) -> None:
    """Report what finished: completions of one tenant together, the rest one by one; then the logs."""
    at = now or timezone.now()
    logs: list[StepLog] = []
    completed: dict[int, list[tuple[Job, Outcome]]] = {}
    for job, outcome in results:
        if outcome.kind == "complete" and not tracing.enabled():
            completed.setdefault(job.tenant_id, []).append((job, outcome))
        else:
            logs += [entry for entry in [_traced_report(job, outcome, now)] if entry is not None]
    for tenant_id, done in completed.items():
        step_logs = {job.key: (job.element_id, job.failures + 1, list(outcome.log)) for job, outcome in done
                     if outcome.log}
        try:
            refused, logged = complete_jobs([tenant_id], [(job.key, outcome.variables) for job, outcome in done],
                                            WORKER, at, step_logs)
        except Exception:  # noqa: BLE001 - their locks expire and they run again
            log.exception("could not report the outcome of connector jobs %s", [job.key for job, _ in done])
            continue
        for job, outcome in done:
            if job.key in refused:
                log.info("connector job %s changed while it ran: %s", job.key, refused[job.key])
            elif outcome.log and job.key not in logged:
                logs.append(_step_log(job, outcome, at))
    _keep_logs(logs)


def _traced_report(job: Job, outcome: Outcome, now: datetime | None) -> StepLog | None:
    # Reported in the job's trace: the completion's command carries it on to the engine.
    with tracing.span(f"connector.report {job.type}", parent=job.traceparent, **{"flowsync.job.key": job.key}):
        return _report(job, outcome, now or timezone.now())


def _keep_logs(logs: list[StepLog]) -> None:
    """The steps' logs of one run of jobs, in one INSERT (a diagnostic, written after the outcomes:
    a crash in between loses only them)."""
    if not logs:
        return
    try:
        StepLog.objects.bulk_create(logs)
    except DatabaseError:
        log.warning("could not keep the logs of %d connector jobs", len(logs))


def _with_secrets(job: Job, inv: Invocation) -> tuple[Invocation, tuple[str, ...], Outcome | None]:
    """The invocation with the `{{secrets.NAME}}` its element's definition mentions resolved (in memory only),
    the values used (scrubbed out of whatever comes back), or the failure when a secret is missing."""
    connector = connector_for(job.type)
    if connector is None or not connector.uses_secrets or not secrets.names_in(inv.variables):
        return inv, (), None
    element = graph_of(definition(job.process_definition_key)).elements.get(job.element_id)
    allowed = secrets.names_in_definition(element.props.get("inputs", ())) if element is not None else set()
    try:
        variables, values = secrets.resolve(job.tenant_id, inv.variables, allowed)
    except secrets.SecretError as exc:
        # A new attempt cannot help until someone adds the secret: an incident at once, naming it.
        return inv, (), Outcome("fail", message=str(exc), code="SECRET_NOT_FOUND", retries=0,
                                log=(f"!! {exc}",))
    if values:
        values += http.derived_credentials(variables)
    return replace(inv, variables=variables), values, None


def _traced(inv: Invocation, values: tuple[str, ...], refused: Outcome | None, parent: str) -> Outcome:
    with tracing.span(f"connector.run {inv.job_type}", parent=parent, kind=SpanKind.CLIENT,
                      **{"flowsync.job.key": inv.job_key}) as span:
        outcome = refused or _scrubbed(_execute(inv), values)
        if outcome.kind != "complete":
            tracing.failed(span, outcome.message or outcome.kind)
        return outcome


def _scrubbed(outcome: Outcome, values: tuple[str, ...]) -> Outcome:
    """The outcome without the secret values a response or an error message may echo (it becomes
    variables, a command, events, an incident and the step's log)."""
    if not values:
        return outcome
    scrub = secrets.scrubber(values)
    return replace(outcome, variables=scrub(outcome.variables), message=scrub(outcome.message),
                   code=scrub(outcome.code), log=tuple(scrub(list(outcome.log))))


def _execute(inv: Invocation) -> Outcome:
    connector = connector_for(inv.job_type)
    assert connector is not None
    try:
        result = connector.run(inv)
    except ConnectorError as exc:
        outcome = decide(inv, None, exc)
        if outcome.kind == "fail" and exc.retryable and outcome.retries and not policy.retries(inv.headers, exc):
            # The node's retry.on does not list this failure: no more attempts.
            outcome = replace(outcome, retries=0, message=f"{exc.message} (not retried: retry.on does not "
                                                          f"list {exc.code})")
        return replace(outcome, log=exc.log)
    except Exception as exc:  # noqa: BLE001 - a connector bug fails the job (with retries), not the run
        log.exception("connector %s failed on job %s", inv.job_type, inv.job_key)
        return decide(inv, None, ConnectorError("CONNECTOR_ERROR", f"{type(exc).__name__}: {exc}"))
    return replace(decide(inv, result, None), log=result.log)


def _report(job: Job, outcome: Outcome, now: datetime) -> StepLog | None:
    """Complete, fail or throw; the step's log to keep, if the connector wrote one."""
    tenants = [job.tenant_id]
    try:
        if outcome.kind == "complete":
            complete_job(tenants, job.key, outcome.variables, WORKER, now)
        elif outcome.kind == "error":
            throw_error(tenants, job.key, outcome.code, outcome.message, outcome.variables, WORKER, now)
        else:
            fail_job(tenants, job.key, outcome.retries, outcome.message, outcome.backoff_ms, outcome.variables,
                     WORKER, now)
    except (Conflict, NotFound) as exc:
        # Canceled (a boundary event, the instance) or taken over after our lock expired: nothing to do.
        log.info("connector job %s changed while it ran: %s", job.key, exc)
        return None
    except Exception:  # noqa: BLE001 - the others' outcomes still count; this one's lock expires
        log.exception("could not report the outcome of connector job %s", job.key)
        return None
    return _step_log(job, outcome, now) if outcome.log else None


def _step_log(job: Job, outcome: Outcome, now: datetime) -> StepLog:
    return StepLog(tenant_id=job.tenant_id, process_instance_key=job.process_instance_key, job_key=job.key,
                   element_id=job.element_id, attempt=job.failures + 1, created_at=now, lines=list(outcome.log))


def _invocations(jobs: list[Job], now: datetime, local: dict[int, dict[str, Any]] | None = None) -> list[Invocation]:
    """What each job's connector gets. A connector that reads only what its element's input mappings set
    gets those variables from `local` (its element's scope, read with the activation) when they are all
    there; the others' variables are read in one round trip per variable selection."""
    inputs: dict[int, tuple[str, ...]] = {}
    groups: dict[tuple[str, ...] | None, list[Job]] = {}
    variables: dict[int, dict[str, Any]] = {}
    for job in jobs:
        element = graph_of(definition(job.process_definition_key)).elements.get(job.element_id)
        mappings = element.props.get("inputs", ()) if element is not None else ()
        names = tuple(dict.fromkeys(m["target"].strip().split(".")[0] for m in mappings))
        inputs[job.key] = names
        connector = connector_for(job.type)
        selection = names if names and connector is not None and not connector.reads_all_variables else None
        own = (local or {}).get(job.key, {})
        if selection is not None and all(name in own for name in selection):
            # The mappings' targets are local to the element, so they shadow any outer variable of that name.
            variables[job.key] = {name: own[name] for name in selection}
            continue
        groups.setdefault(selection, []).append(job)
    for selection, group in groups.items():
        variables.update(variables_for_jobs(group, list(selection) if selection else None))
    return [
        Invocation(
            job_key=job.key, job_type=job.type, retries=job.retries, headers=dict(job.custom_headers or {}),
            variables=variables.get(job.key, {}), inputs=inputs[job.key], now=now, budget_seconds=budget_seconds(),
        )
        for job in jobs
    ]
