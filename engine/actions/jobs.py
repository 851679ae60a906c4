"""Job actions: activation (locks jobs for a worker) and completion."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils.dateparse import parse_datetime
from opentelemetry.trace import SpanKind
from psycopg.types.json import Jsonb

from engine.actions.durations import after, span
from engine.audit import record
from engine.connectors.policy import code_retries, worker_error_code
from engine.connectors.registry import TYPES as CONNECTOR_TYPES
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import Command, ElementInstance, Job, ProcessInstance, Variable
from engine.store import sql
from engine.store.commands import submit
from engine.store.notify import notify_jobs_available
from engine.store.wake import CHANNEL, claim_notify, notify_engine, request_drain
from engine.visibility import scope_chain, visible_variables
from flowsync import metrics, tracing
from flowsync.models import Tenant

# Two branches, each able to walk its own partial index in key order (one OR'd filter could not):
# activatable jobs not in backoff, and activated jobs whose lock expired.
# A suspended tenant's jobs wait (built-in connectors activate here too, not only the API's workers).
SUSPENDED = "SELECT 1 FROM flowsync_tenant t WHERE t.id = engine_job.tenant_id AND t.suspended"
ACTIVATE = f"""
WITH ready AS (
    SELECT key FROM engine_job
    WHERE state = 'ACTIVATABLE' AND tenant_id {{tenant}} AND type = %(type)s
      AND (backoff_until IS NULL OR backoff_until <= %(now)s) AND NOT EXISTS ({SUSPENDED})
    ORDER BY key LIMIT %(max)s FOR UPDATE SKIP LOCKED
), expired AS (
    SELECT key FROM engine_job
    WHERE state = 'ACTIVATED' AND deadline < %(now)s AND tenant_id {{tenant}} AND type = %(type)s
      AND NOT EXISTS ({SUSPENDED})
    ORDER BY key LIMIT %(max)s FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT key, false AS timed_out FROM ready UNION ALL SELECT key, true FROM expired ORDER BY key LIMIT %(max)s
)
UPDATE engine_job AS j SET state = 'ACTIVATED', worker = %(worker)s, deadline = %(deadline)s, backoff_until = NULL,
    lease_token = gen_random_uuid()::text
FROM picked WHERE j.key = picked.key
RETURNING {", ".join("j." + f.column for f in Job._meta.concrete_fields)}, picked.timed_out
"""
# One tenant (the usual case) as an equality, so the (tenant, type, key) index gives the order.
ACTIVATE_ONE_TENANT = ACTIVATE.format(tenant="= %(tenants)s")
ACTIVATE_TENANTS = ACTIVATE.format(tenant="= ANY(%(tenants)s::bigint[])")
# The same activation answering, per job, what a worker gets with it: the open element scopes and
# the variables of its instance (optionally only some names), and its root instance key. One
# statement where the API sent four (the reads see the rows as they were before the UPDATE; it
# changes only jobs).
_PICK, _UPDATE = ACTIVATE.split("\nUPDATE engine_job", 1)
ACTIVATE_WITH_CONTEXT = _PICK + ", act AS (\nUPDATE engine_job" + _UPDATE + """)
SELECT act.*, pi.root_instance_key,
    (SELECT json_agg(json_build_array(e.key, e.flow_scope_key))::text FROM engine_elementinstance e
     WHERE e.process_instance_id = act.process_instance_key AND e.state = 'ACTIVE'),
    (SELECT json_agg(json_build_array(v.scope_key, v.name, v.value))::text FROM engine_variable v
     WHERE v.process_instance_id = act.process_instance_key
       AND (%(names)s::text[] IS NULL OR v.name = ANY(%(names)s::text[])))
FROM act JOIN engine_processinstance pi ON pi.key = act.process_instance_key
ORDER BY act.key
"""
ACTIVATE_WITH_CONTEXT_ONE_TENANT = ACTIVATE_WITH_CONTEXT.format(tenant="= %(tenants)s")
ACTIVATE_WITH_CONTEXT_TENANTS = ACTIVATE_WITH_CONTEXT.format(tenant="= ANY(%(tenants)s::bigint[])")


# The built-in connectors take every type they run in one activation: the same two branches as ACTIVATE,
# the activatable one as one index walk per type (each in key order), merged and cut to the limit.
def _activate_any_sql(one_tenant: bool) -> str:
    tenant = "= %(tenants)s" if one_tenant else "= ANY(%(tenants)s::bigint[])"
    single = ACTIVATE.format(tenant=tenant)
    head, rest = single.split("WITH ready AS (", 1)
    ready, rest = rest.split("), expired AS (", 1)
    per_type = ready.replace("type = %(type)s", "type = wanted.type").strip()
    return (f"{head}WITH ready AS (\n    SELECT one.key FROM unnest(%(types)s::text[]) AS wanted(type),"
            f"\n    LATERAL ({per_type}) AS one ORDER BY one.key LIMIT %(max)s\n), expired AS ("
            + rest.replace("type = %(type)s", "type = ANY(%(types)s::text[])"))


ACTIVATE_ANY_ONE_TENANT = _activate_any_sql(True)
ACTIVATE_ANY_TENANTS = _activate_any_sql(False)


def _with_locals(statement: str) -> str:
    """The activation answering, per job, the local variables of its element (what its input mappings set)."""
    pick, update = statement.split("\nUPDATE engine_job", 1)
    return (pick + ", act AS (\nUPDATE engine_job" + update + ")\nSELECT act.*, (SELECT json_agg(json_build_array("
            "v.name, v.value))::text FROM engine_variable v WHERE v.scope_key = act.element_instance_key)\n"
            "FROM act ORDER BY act.key")


ACTIVATE_ANY_WITH_LOCALS = {True: _with_locals(ACTIVATE_ANY_ONE_TENANT), False: _with_locals(ACTIVATE_ANY_TENANTS)}


def activate_any(
    tenant_ids: list[int], job_types: list[str], worker: str, timeout_ms: int, max_jobs: int, now: datetime,
) -> list[Job]:
    """`activate_jobs` for several types at once (in key order across them): one statement on PostgreSQL."""
    if max_jobs <= 0 or not job_types:
        return []
    if connection.vendor != "postgresql":
        jobs: list[Job] = []
        for job_type in job_types:
            jobs += activate_jobs(tenant_ids, job_type, worker, timeout_ms, max_jobs - len(jobs), now)
        return jobs
    return activate_any_with_locals(tenant_ids, job_types, worker, timeout_ms, max_jobs, now)[0]


def activate_any_with_locals(
    tenant_ids: list[int], job_types: list[str], worker: str, timeout_ms: int, max_jobs: int, now: datetime,
) -> tuple[list[Job], dict[int, dict[str, Any]] | None]:
    """`activate_any`, and on PostgreSQL, in the same statement, each job's local variables (those of its
    element's scope: what the element's input mappings set) by job key; None elsewhere."""
    if max_jobs <= 0 or not job_types:
        return [], {}
    if connection.vendor != "postgresql":
        return activate_any(tenant_ids, job_types, worker, timeout_ms, max_jobs, now), None
    one = len(tenant_ids) == 1
    params = {"tenants": tenant_ids[0] if one else list(tenant_ids), "types": list(job_types), "now": now,
              "max": max_jobs, "worker": worker[:255], "deadline": after(now, timeout_ms)}
    rows = sql.execute(ACTIVATE_ANY_WITH_LOCALS[one], params, repeatable=True)
    width = len(Job._meta.concrete_fields)
    jobs = sql.rows_to(Job, [row[:width] for row in rows])
    timed_out = [job for job, row in zip(jobs, rows, strict=True) if row[width]]
    local = {job.key: dict(json.loads(row[width + 1] or "[]")) for job, row in zip(jobs, rows, strict=True)}
    return _activated(jobs, now, timed_out), local


def activate_jobs(
    tenant_ids: list[int], job_type: str, worker: str, timeout_ms: int, max_jobs: int, now: datetime,
) -> list[Job]:
    """Lock up to max_jobs activatable jobs of a type for a worker (expired locks count as activatable).

    Every activation gives the job a new lease token (`Job.lease_token`); the API hands it to
    workers that ask `withLease`. An answer carrying a token is refused unless it is the current
    one, so a worker whose lock expired cannot answer for the job after it was activated again.
    """
    if max_jobs <= 0:
        return []
    deadline = after(now, timeout_ms)
    if connection.vendor == "postgresql":
        # One statement, no ORM: this runs on every long-poll wake-up and sits on the hand-off path.
        one = len(tenant_ids) == 1
        params = {"tenants": tenant_ids[0] if one else list(tenant_ids), "type": job_type, "now": now,
                  "max": max_jobs, "worker": worker[:255], "deadline": deadline}
        rows = sql.execute(ACTIVATE_ONE_TENANT if one else ACTIVATE_TENANTS, params, repeatable=True)
        jobs = sql.rows_to(Job, [row[:-1] for row in rows])
        timed_out = [job for job, row in zip(jobs, rows, strict=True) if row[-1]]
        return _activated(sorted(jobs, key=lambda j: j.key), now, timed_out)
    with transaction.atomic():
        ready = Q(state=Job.State.ACTIVATABLE) & (Q(backoff_until__isnull=True) | Q(backoff_until__lte=now))
        expired = Q(state=Job.State.ACTIVATED, deadline__lt=now)
        jobs = list(
            Job.objects.select_for_update(skip_locked=True)
            .filter(ready | expired, tenant_id__in=tenant_ids, type=job_type)
            .exclude(tenant_id__in=Tenant.objects.filter(suspended=True).values("pk"))
            .order_by("key")[:max_jobs]
        )
        timed_out = [job for job in jobs if job.state == Job.State.ACTIVATED]
        for job in jobs:
            job.state, job.worker, job.deadline, job.backoff_until = Job.State.ACTIVATED, worker[:255], deadline, None
            job.lease_token = str(uuid.uuid4())
        Job.objects.bulk_update(jobs, ["state", "worker", "deadline", "backoff_until", "lease_token"])
    return _activated(jobs, now, timed_out)


def _activated(jobs: list[Job], now: datetime, timed_out: list[Job]) -> list[Job]:
    """Count the activations and their hand-off latency (created → activated; a re-activation after an
    expired lock counts from creation too), and the activations whose lock had run out (timed out)."""
    if jobs:
        if tracing.enabled():
            for job in jobs:  # the activation joins the trace of the command that created the job
                with tracing.span(f"job.activated {job.type}", parent=job.traceparent, kind=SpanKind.CONSUMER,
                                  **{"flowsync.job.key": job.key, "flowsync.job.worker": job.worker}):
                    pass
        tally: dict[tuple[str, str, str], int] = {}
        for job in timed_out:
            label = (metrics.tenant_label(job.tenant_id), job.type, "timed_out")
            tally[label] = tally.get(label, 0) + 1
        for job in jobs:
            label = (metrics.tenant_label(job.tenant_id), job.type, "activated")
            tally[label] = tally.get(label, 0) + 1
            metrics.handoff_seconds.labels(job.type).observe(max(0.0, (now - job.created_at).total_seconds()))
        metrics.add(metrics.jobs, tally)
    return jobs


def _lock_job(tenant_ids: list[int], key: int, now: datetime | None = None, lease: str = "") -> Job:
    job = Job.objects.select_for_update().filter(key=key, tenant_id__in=tenant_ids).first()
    if job is None:
        raise NotFound(f"no job with key {key}")
    if now is not None and job.state == Job.State.ACTIVATED and job.deadline is not None and job.deadline < now:
        # The worker held the job past its lock: it may already be another worker's; its answer is refused.
        raise Conflict(f"job {key}'s lock expired at {job.deadline.isoformat()}; it will be activated again")
    if lease and lease != job.lease_token:
        # Not the token of the job's current activation (an answer without a token is judged by its lock alone).
        raise Conflict(f"job {key}'s lease token is not that of its current activation "
                       "(the lock expired and the job was activated again, or the token is wrong)")
    return job


# Completes the job if it may be: activatable, or activated with its lock not yet expired (and,
# when the answer carries a lease token, that of the current activation); in the same statement,
# writes the COMPLETE_JOB command (and, with WAKE, the engine's wake-up: engine/store/commands.py).
COMPLETE = """
WITH done AS (
    UPDATE engine_job SET state = 'COMPLETED'
    WHERE key = %(key)s AND tenant_id = ANY(%(tenants)s::bigint[])
      AND (state = 'ACTIVATABLE' OR (state = 'ACTIVATED' AND (deadline IS NULL OR deadline >= %(now)s)))
      AND (%(lease)s = '' OR lease_token = %(lease)s)
    RETURNING tenant_id, process_instance_key
)
INSERT INTO engine_command
    (tenant_id, process_instance_key, kind, payload, state, actor, created_at, keys, error, traceparent)
SELECT tenant_id, process_instance_key, 'COMPLETE_JOB', %(payload)s, 'PENDING', %(actor)s, %(now)s, '[]', '',
    %(traceparent)s
FROM done RETURNING id{wake}
"""
# The payload names the instance: one engine worker answers (engine/runtime/wake_share.py).
COMPLETE_AND_WAKE = COMPLETE.format(wake=f", pg_notify('{CHANNEL}', process_instance_key::text)")
COMPLETE_ONLY = COMPLETE.format(wake="")


# What a task listener may correct on its user task (Camunda 8.8 `JobResultCorrections`), and the check of each.
_CORRECTIONS = {
    "assignee": lambda v: v is None or isinstance(v, str),
    "dueDate": lambda v: v is None or v == "" or (isinstance(v, str) and _aware(v)),
    "followUpDate": lambda v: v is None or v == "" or (isinstance(v, str) and _aware(v)),
    "priority": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 100),
    "candidateUsers": lambda v: v is None or (isinstance(v, list) and all(isinstance(n, str) for n in v)),
    "candidateGroups": lambda v: v is None or (isinstance(v, list) and all(isinstance(n, str) for n in v)),
}
_CORRECTION_RULES = {"assignee": "a string", "dueDate": "an ISO 8601 date-time with an offset",
                     "followUpDate": "an ISO 8601 date-time with an offset", "priority": "an integer from 0 to 100",
                     "candidateUsers": "a list of strings", "candidateGroups": "a list of strings"}
# Camunda 8.8: only these lifecycle transitions may be denied by a task listener (not creating, not canceling).
DENIABLE = ("ASSIGNING", "UPDATING", "COMPLETING")


def _aware(text: str) -> bool:
    parsed = parse_datetime(text)
    return parsed is not None and parsed.tzinfo is not None


def job_result(result: Any) -> dict[str, Any] | None:
    """Check a job completion's `result` (a task listener's answer); the engine applies it. None: no result."""
    if result is None:
        return None
    if not isinstance(result, dict):
        raise InvalidInput("result must be a JSON object")
    if result.get("type", "userTask") not in ("userTask", None):
        raise InvalidInput(f"result.type '{result.get('type')}' is not supported (only userTask)")
    denied = result.get("denied")
    if denied is not None and not isinstance(denied, bool):
        raise InvalidInput("result.denied must be a boolean")
    reason = result.get("deniedReason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput("result.deniedReason must be a string")
    corrections = check_task_changes(result.get("corrections"), "result.corrections", tuple(_CORRECTIONS))
    return {"denied": bool(denied), "deniedReason": reason or "", "corrections": corrections}


def check_task_changes(changes: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """A user task's changes (a listener's corrections, an update's changeset): known attributes of the right type.

    Nulls are dropped (Camunda: null leaves the attribute as it is); "" clears a date, [] clears candidates.
    """
    changes = changes or {}
    if not isinstance(changes, dict):
        raise InvalidInput(f"{where} must be a JSON object")
    for name, value in changes.items():
        if name not in allowed:
            raise InvalidInput(f"{where}.{name} is not a changeable attribute ({', '.join(allowed)})")
        if not _CORRECTIONS[name](value):
            raise InvalidInput(f"{where}.{name} must be {_CORRECTION_RULES[name]}, got {value!r}")
    return {name: value for name, value in changes.items() if value is not None}


def complete_job(tenant_ids: list[int], key: int, variables: dict[str, Any] | None, actor: str, now: datetime,
                 lease: str = "", result: dict[str, Any] | None = None) -> None:
    if variables is not None and not isinstance(variables, dict):
        raise InvalidInput("variables must be a JSON object")
    payload: dict[str, Any] = {"jobKey": str(key), "variables": variables or {}}
    checked = job_result(result)
    if checked is not None:
        payload["result"] = checked
        if checked["denied"]:
            event = Job.objects.filter(key=key, tenant_id__in=tenant_ids).values_list(
                "listener_event_type", flat=True).first()
            if event is not None and event not in DENIABLE:
                raise InvalidInput(f"result.denied: a task listener on '{event.lower() or 'no event'}' cannot deny "
                                   f"its transition (only {', '.join(e.lower() for e in DENIABLE)} can)")
    if connection.vendor == "postgresql":
        # One statement: the conditional UPDATE (its row lock refuses a second completion, as the
        # lock below does), the command and the wake-up. Outside a caller's transaction it commits
        # by itself: no BEGIN and COMMIT round trips (~5 % of a completion's instructions in the web
        # process, bench/api_paths.py, and two statements less for PostgreSQL).
        # Nothing changed: the path below says why.
        wake = claim_notify()
        params = {"key": key, "tenants": list(tenant_ids), "now": now, "lease": lease or "",
                  "payload": Jsonb(payload), "actor": actor[:255], "traceparent": tracing.traceparent()}
        if sql.execute(COMPLETE_AND_WAKE if wake else COMPLETE_ONLY, params):
            if not wake:
                request_drain()  # inline mode, or the transaction has notified already
            return
        if wake and connection.in_atomic_block:
            notify_engine()  # claimed in the caller's transaction but not sent; the path below may still submit
    with transaction.atomic():
        job = _lock_job(tenant_ids, key, now, lease)
        if job.state not in (Job.State.ACTIVATABLE, Job.State.ACTIVATED):
            raise Conflict(f"job {key} is {job.state}; only an activatable or activated job can be completed")
        # Marked at once so a second completion is refused here, before the engine applies the first.
        job.state = Job.State.COMPLETED
        job.save(update_fields=["state"])
        submit(job.tenant_id, job.process_instance_key, Command.Kind.COMPLETE_JOB, payload, actor, now)


# Several completions in one statement (the built-in connectors report what a run finished together):
# COMPLETE's condition per job, one command per completed job, the step logs of the completed ones,
# one wake-up naming one of the instances (whichever worker answers drains them all).
COMPLETE_MANY = """
WITH answer AS (
    SELECT * FROM unnest(%(keys)s::bigint[], %(payloads)s::jsonb[]) WITH ORDINALITY AS a(key, payload, n)
), done AS (
    UPDATE engine_job AS j SET state = 'COMPLETED' FROM answer
    WHERE j.key = answer.key AND j.tenant_id = ANY(%(tenants)s::bigint[])
      AND (j.state = 'ACTIVATABLE' OR (j.state = 'ACTIVATED' AND (j.deadline IS NULL OR j.deadline >= %(now)s)))
    RETURNING j.key, j.tenant_id, j.process_instance_key, answer.payload, answer.n
), logged AS (
    INSERT INTO engine_steplog (tenant_id, process_instance_key, job_key, element_id, attempt, created_at, lines)
    SELECT done.tenant_id, done.process_instance_key, done.key, l.element_id, l.attempt, %(now)s, l.lines
    FROM unnest(%(log_keys)s::bigint[], %(log_elements)s::text[], %(log_attempts)s::int[], %(log_lines)s::jsonb[])
        AS l(key, element_id, attempt, lines)
    JOIN done ON done.key = l.key
)
INSERT INTO engine_command
    (tenant_id, process_instance_key, kind, payload, state, actor, created_at, keys, error, traceparent)
SELECT tenant_id, process_instance_key, 'COMPLETE_JOB', payload, 'PENDING', %(actor)s, %(now)s, '[]', '', ''
FROM done ORDER BY n RETURNING payload->>'jobKey'{wake}
"""
COMPLETE_MANY_AND_WAKE = COMPLETE_MANY.format(
    wake=f", pg_notify('{CHANNEL}', (SELECT min(process_instance_key) FROM done)::text)")
COMPLETE_MANY_ONLY = COMPLETE_MANY.format(wake="")


def complete_jobs(tenant_ids: list[int], answers: list[tuple[int, dict[str, Any]]], actor: str,
                  now: datetime, logs: dict[int, tuple[str, int, list[str]]] | None = None,
                  ) -> tuple[dict[int, Conflict | NotFound], set[int]]:
    """Complete several jobs (key, variables), each judged on its own as by complete_job. Returns those
    that could not be completed, with complete_job's reason, and the jobs whose `logs` (job key →
    element id, attempt, lines: its step's log) were kept with the completion: on PostgreSQL (untraced)
    one statement completes and logs; the caller keeps the logs of the other completed jobs."""
    for _key, variables in answers:
        if variables is not None and not isinstance(variables, dict):
            raise InvalidInput("variables must be a JSON object")
    done: set[int] = set()
    # Traced: each completion carries its own span's traceparent, so they go one at a time.
    if answers and connection.vendor == "postgresql" and not tracing.enabled():
        logs = logs or {}
        # One statement: atomic by itself, so no transaction of its own (two round trips fewer).
        with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
            wake = claim_notify()
            params = {"keys": [key for key, _ in answers], "tenants": list(tenant_ids), "now": now,
                      "actor": actor[:255],
                      "payloads": [Jsonb({"jobKey": str(key), "variables": variables or {}})
                                   for key, variables in answers],
                      "log_keys": list(logs), "log_elements": [log[0] for log in logs.values()],
                      "log_attempts": [log[1] for log in logs.values()],
                      "log_lines": [Jsonb(log[2]) for log in logs.values()]}
            done = {int(row[0]) for row in sql.execute(COMPLETE_MANY_AND_WAKE if wake else COMPLETE_MANY_ONLY,
                                                       params)}
            if not wake:
                request_drain()  # inline mode, or the transaction has notified already
            elif not done and connection.in_atomic_block:
                notify_engine()  # claimed but not sent
    refused: dict[int, Conflict | NotFound] = {}
    for key, variables in answers:
        if key not in done:
            try:
                complete_job(tenant_ids, key, variables, actor, now)
            except (Conflict, NotFound) as exc:
                refused[key] = exc
    return refused, done & set(logs or ())


def activate_with_context(
    tenant_ids: list[int], job_type: str, worker: str, timeout_ms: int, max_jobs: int, now: datetime,
    names: list[str] | None,
) -> tuple[list[Job], dict[int, dict[str, Any]], dict[int, int]]:
    """`activate_jobs`, then `job_context` of what it activated: on PostgreSQL in one statement."""
    if max_jobs <= 0:
        return [], {}, {}
    if connection.vendor != "postgresql":
        jobs = activate_jobs(tenant_ids, job_type, worker, timeout_ms, max_jobs, now)
        return (jobs, *job_context(jobs, names))
    one = len(tenant_ids) == 1
    params = {"tenants": tenant_ids[0] if one else list(tenant_ids), "type": job_type, "now": now,
              "max": max_jobs, "worker": worker[:255], "deadline": after(now, timeout_ms), "names": names or None}
    rows = sql.execute(ACTIVATE_WITH_CONTEXT_ONE_TENANT if one else ACTIVATE_WITH_CONTEXT_TENANTS, params,
                       repeatable=True)
    # Each row: the job's columns, whether its lock had timed out, its root instance key, the
    # instance's open scopes and its variables.
    width = len(Job._meta.concrete_fields)
    jobs = sql.rows_to(Job, [row[:width] for row in rows])
    timed_out = [job for job, row in zip(jobs, rows, strict=True) if row[width]]
    parent: dict[int, int | None] = {}
    by_scope: dict[int, dict[str, Any]] = {}
    roots: dict[int, int] = {}
    for job, row in zip(jobs, rows, strict=True):
        if job.process_instance_key in roots:
            continue  # another job of the same instance brought the same rows
        roots[job.process_instance_key] = row[width + 1]
        for key, scope in json.loads(row[width + 2] or "[]"):
            parent[key] = scope
        for scope, name, value in json.loads(row[width + 3] or "[]"):
            by_scope.setdefault(scope, {})[name] = value
    variables = {
        job.key: visible_variables(scope_chain(job.element_instance_key, parent.get), lambda k: by_scope.get(k, {}))
        for job in jobs
    }
    return _activated(jobs, now, timed_out), variables, roots


def variables_for_jobs(jobs: list[Job], names: list[str] | None) -> dict[int, dict[str, Any]]:
    """The variables each job's element sees (local scopes shadow outer ones)."""
    return job_context(jobs, names)[0]


def job_context(jobs: list[Job], names: list[str] | None) -> tuple[dict[int, dict[str, Any]], dict[int, int]]:
    """For activated jobs, in one round trip: job key → the variables its element sees (local scopes
    shadow outer ones; only `names` when given), and instance key → root instance key."""
    if not jobs:
        return {}, {}
    keys = sorted({j.process_instance_key for j in jobs})
    active = ElementInstance.State.ACTIVE
    scopes = sql.Read(
        ElementInstance, "process_instance_id = ANY(%s::bigint[]) AND state = %s", (keys, active),
        lambda: ElementInstance.objects.filter(process_instance_id__in=keys, state=active),
    )
    if names:
        variables = sql.Read(
            Variable, "process_instance_id = ANY(%s::bigint[]) AND name = ANY(%s::text[])", (keys, names),
            lambda: Variable.objects.filter(process_instance_id__in=keys, name__in=names),
        )
    else:
        variables = sql.Read(
            Variable, "process_instance_id = ANY(%s::bigint[])", (keys,),
            lambda: Variable.objects.filter(process_instance_id__in=keys),
        )
    instances = sql.Read(
        ProcessInstance, "key = ANY(%s::bigint[])", (keys,), lambda: ProcessInstance.objects.filter(key__in=keys)
    )
    sql.fetch(scopes, variables, instances)
    parent = {ei.key: ei.flow_scope_key for ei in scopes.rows}
    by_scope: dict[int, dict[str, Any]] = {}
    for var in variables.rows:
        by_scope.setdefault(var.scope_key, {})[var.name] = var.value
    result = {
        job.key: visible_variables(scope_chain(job.element_instance_key, parent.get), lambda k: by_scope.get(k, {}))
        for job in jobs
    }
    return result, {pi.key: pi.root_instance_key for pi in instances.rows}


def _node_backoff(job: Job) -> dict[str, float] | None:
    text = (job.custom_headers or {}).get(Job.BACKOFF_HEADER)
    if not text:
        return None
    try:
        found = json.loads(text)
        return {k: float(found[k]) for k in ("initial_ms", "multiplier", "max_ms", "jitter")}
    except (ValueError, TypeError, KeyError):
        return None


def retry_backoff(job: Job, requested_ms: int | None) -> timedelta:
    """The worker's backoff if it gave one, else exponential with jitter and a cap (per job type settings)."""
    import random

    from django.conf import settings

    if requested_ms is not None:
        return span(requested_ms)
    policy = {**settings.JOB_BACKOFF_DEFAULT, **settings.JOB_BACKOFF_BY_TYPE.get(job.type, {})}
    node = _node_backoff(job)
    if node is not None:
        # A JSON flow node's own retry policy (engine/flows/compile.py puts it in a task header).
        base = node["initial_ms"] * (node["multiplier"] ** min(job.failures, 30))
        return span(min(base, node["max_ms"]) * (1 + random.uniform(-node["jitter"], node["jitter"])))
    base = policy["base_ms"] * (2 ** min(job.failures, 30))
    capped = min(base, policy["cap_ms"])
    # Jitter spreads retries of jobs that failed together (e.g. a downstream outage).
    jitter = 1 + random.uniform(-policy["jitter"], policy["jitter"])
    return span(capped * jitter)


def fail_job(
    tenant_ids: list[int],
    key: int,
    retries: int,
    error_message: str,
    retry_backoff_ms: int | None,
    variables: dict[str, Any] | None,
    actor: str,
    now: datetime,
    lease: str = "",
    error_code: str = "",
) -> None:
    """A worker could not do the job: retry later, or raise a JOB_NO_RETRIES incident when none are left.

    A JSON flow node's `retry.on` (a task header) decides for external workers: a failure whose code
    (`error_code`, else the one its message starts with) it does not list gets no more retries.
    """
    if variables is not None and not isinstance(variables, dict):
        raise InvalidInput("variables must be a JSON object")
    with transaction.atomic():
        job = _lock_job(tenant_ids, key, now, lease)
        if job.state != Job.State.ACTIVATED:
            raise Conflict(f"job {key} is {job.state}; only an activated job can be failed")
        if retries > 0 and job.type not in CONNECTOR_TYPES:
            # Built-in connectors apply retry.on themselves: they know the failure's kind, not only its text.
            code = worker_error_code(error_code, error_message)
            if not code_retries(job.custom_headers or {}, code):
                retries = 0
                error_message = (f"{error_message} (not retried: retry.on does not list "
                                 f"{code or 'a failure without an error code'})")
        backoff = retry_backoff(job, retry_backoff_ms)
        job.retries, job.failures = max(0, retries), job.failures + 1
        job.error_message = (error_message or "")[:4000]
        # The attempt's history (a flow's step attempts): when it could start, when it failed, why.
        previous = job.attempts[-1]["retryAt"] if job.attempts else job.created_at.isoformat()
        retry_at = (now + backoff) if retries > 0 else None
        job.attempts = [*job.attempts, {"attempt": job.failures, "startedAt": previous, "endedAt": now.isoformat(),
                                        "worker": job.worker, "error": job.error_message[:1000],
                                        "retryAt": retry_at.isoformat() if retry_at else None}][-50:]
        job.worker, job.deadline, job.lease_token = "", None, ""
        if job.retries > 0:
            job.state, job.backoff_until = Job.State.ACTIVATABLE, (now + backoff if backoff else None)
        else:
            job.state = Job.State.FAILED
        job.save(update_fields=["retries", "failures", "error_message", "worker", "deadline", "state", "backoff_until",
                                "lease_token", "attempts"])
        if variables:
            submit(
                job.tenant_id,
                job.process_instance_key,
                Command.Kind.SET_VARIABLES,
                {"scopeKey": str(job.element_instance_key), "variables": variables, "local": True},
                actor,
                now,
            )
        if job.state == Job.State.ACTIVATABLE and not job.backoff_until:
            transaction.on_commit(lambda: notify_jobs_available(job.tenant_id, {job.type}))
        if job.retries == 0:
            submit(
                job.tenant_id,
                job.process_instance_key,
                Command.Kind.JOB_FAILED,
                {"jobKey": str(key), "errorMessage": job.error_message},
                actor,
                now,
            )


def throw_error(
    tenant_ids: list[int],
    key: int,
    error_code: str,
    error_message: str,
    variables: dict[str, Any] | None,
    actor: str,
    now: datetime,
    lease: str = "",
) -> None:
    """A worker reports a business error: the engine throws it as a BPMN error from the job's element."""
    if not error_code:
        raise InvalidInput("errorCode must not be empty")
    if variables is not None and not isinstance(variables, dict):
        raise InvalidInput("variables must be a JSON object")
    with transaction.atomic():
        job = _lock_job(tenant_ids, key, now, lease)
        if job.state not in (Job.State.ACTIVATABLE, Job.State.ACTIVATED):
            raise Conflict(f"job {key} is {job.state}; only an activatable or activated job can throw an error")
        job.state, job.error_message = Job.State.ERROR_THROWN, (error_message or "")[:4000]
        job.save(update_fields=["state", "error_message"])
        submit(
            job.tenant_id,
            job.process_instance_key,
            Command.Kind.THROW_ERROR,
            {
                "jobKey": str(key),
                "errorCode": error_code,
                "errorMessage": error_message or "",
                "variables": variables or {},
            },
            actor,
            now,
        )


def update_job(
    tenant_ids: list[int], key: int, retries: int | None, timeout_ms: int | None, actor: str, now: datetime
) -> None:
    """Change a job's retries (e.g. before resolving its incident) or extend an activated job's lock."""
    if retries is not None and retries < 0:
        raise InvalidInput("retries must not be negative")
    with transaction.atomic():
        job = _lock_job(tenant_ids, key)
        if job.state in (Job.State.COMPLETED, Job.State.CANCELED, Job.State.ERROR_THROWN):
            raise Conflict(f"job {key} is {job.state} and can no longer be changed")
        fields = []
        before = {"retries": job.retries, "deadline": job.deadline.isoformat() if job.deadline else None}
        if retries is not None:
            job.retries = retries
            fields.append("retries")
        if timeout_ms is not None:
            if job.state != Job.State.ACTIVATED:
                raise Conflict(f"job {key} is {job.state}; only an activated job's timeout can change")
            job.deadline = after(now, timeout_ms)
            fields.append("deadline")
        if fields:
            job.save(update_fields=fields)
            record(job.tenant_id, actor, "job.update", target_type="job", target_key=key,
                   instance_key=job.process_instance_key, before={f: before[f] for f in fields},
                   after={"retries": job.retries, "deadline": job.deadline.isoformat() if job.deadline else None}
                   if fields else None, now=now)
