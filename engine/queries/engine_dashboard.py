"""The engine's key figures for the Inspector's dashboard (the Grafana board's panels for people without
Grafana): throughput and apply latency per minute over the last hour, job hand-off latency, queue depth,
open incidents per type, incidents opened per hour over the last day, workers.

Throughput and apply latency are read from the database for the caller's tenants: instances started and
ended per minute on the (tenant, start/end date) indexes, commands applied per minute from the command log,
bounded to the window's rows through its (id, logged_at) key. Hand-off latency (job created → activated) is
not stored in any row, so it comes from the Prometheus histogram every process writes (all tenants, since the
processes started). Queue depth and workers are the deployment's (engine/queries/status.py).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count
from django.db.models.functions import TruncHour, TruncMinute

from engine.models import Command, Incident, ProcessInstance
from engine.queries import status
from flowsync import metrics

WINDOW_MINUTES = 60
INCIDENT_HOURS = 24  # incidents are rarer than starts: counted per hour over a day
# Embedded (SQLite) mode computes latency percentiles in Python over at most this many commands.
PORTABLE_SAMPLE = 50_000

# Per minute of the window: commands applied, and the p50/p95 of created → applied, for these tenants. The
# first id of the window is found walking the (id, logged_at) key backwards from the newest row to the first
# one logged well before the window, so the second scan is an index range over the window's rows only (the
# log is partitioned by logged_at; a plain `logged_at >= since` would read the whole current partition).
# Ids follow logged_at (the transaction's start) only roughly: a transaction that ran long commits rows with
# an earlier logged_at after others' ids. The margin keeps those in the range; logged_at then cuts exactly.
BOUND_MARGIN = "10 minutes"
COMMANDS_PER_MINUTE = f"""
WITH first AS (
  SELECT coalesce((SELECT id FROM engine_command WHERE logged_at < %(since)s - interval '{BOUND_MARGIN}'
                   ORDER BY id DESC LIMIT 1), 0) AS id
)
SELECT date_trunc('minute', processed_at) AS minute, count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - created_at)),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - created_at))
FROM engine_command
WHERE id > (SELECT id FROM first) AND logged_at >= %(since)s AND processed_at >= %(since)s
  AND state = 'PROCESSED' AND tenant_id = ANY(%(tenants)s)
GROUP BY 1
"""


@dataclass(frozen=True)
class Minute:
    at: dt.datetime  # the minute's start
    commands: int  # commands applied
    started: int  # instances started
    ended: int  # instances completed or terminated
    apply_p50: float | None  # seconds from command written to applied; None when none was applied
    apply_p95: float | None


@dataclass(frozen=True)
class Handoff:
    buckets: list[tuple[float, int]]  # (upper bound in seconds, activations in that bucket, not cumulative)
    count: int
    p50: float | None  # upper bound of the bucket holding the median (an estimate, as Prometheus' quantile)
    p95: float | None


@dataclass(frozen=True)
class Dashboard:
    since: dt.datetime
    minutes: list[Minute]
    handoff: Handoff
    backlog: status.Backlog
    limit: int
    incidents: list[tuple[str, int]]  # (error type, open) for the caller's tenant
    workers: list[status.WorkerStatus]
    incidents_opened: list[tuple[dt.datetime, int]]  # (hour's start, incidents created), oldest first


def dashboard(tenant_ids: list[int], tenant_label: str, window: int = WINDOW_MINUTES) -> Dashboard:
    now = status.db_now()  # the database's clock: every figure here is the database's
    since = (now - dt.timedelta(minutes=window - 1)).replace(second=0, microsecond=0)
    return Dashboard(
        since=since,
        minutes=per_minute(tenant_ids, since, window),
        handoff=handoff(),
        backlog=status.backlog(),
        limit=status.backpressure_limit(),
        incidents=[(kind, n) for tenant, kind, n in status.open_incidents() if tenant == tenant_label],
        workers=status.workers(),
        incidents_opened=incidents_per_hour(tenant_ids, now),
    )


def incidents_per_hour(tenant_ids: list[int], now: dt.datetime,
                       hours: int = INCIDENT_HOURS) -> list[tuple[dt.datetime, int]]:
    """Incidents opened in each of the last `hours` hours (UTC hours; the current one last), resolved or not,
    counted on the (tenant, created_at) index."""
    since = (now - dt.timedelta(hours=hours - 1)).astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    rows = (Incident.objects.filter(tenant_id__in=tenant_ids, created_at__gte=since).order_by()
            .annotate(hour=TruncHour("created_at", tzinfo=dt.UTC)).values("hour").annotate(n=Count("key")))
    found = {r["hour"]: r["n"] for r in rows}
    return [(at, found.get(at, 0)) for at in (since + dt.timedelta(hours=n) for n in range(hours))]


def per_minute(tenant_ids: list[int], since: dt.datetime, window: int) -> list[Minute]:
    """`window` minutes from `since`, every minute present (zero when nothing happened)."""
    instances = ProcessInstance.objects.filter(tenant_id__in=tenant_ids)
    started = _count_by_minute(instances.filter(start_date__gte=since), "start_date")
    ended = _count_by_minute(instances.filter(end_date__gte=since), "end_date")
    commands = _commands(tenant_ids, since)
    out = []
    for n in range(window):
        at = since + dt.timedelta(minutes=n)
        applied, p50, p95 = commands.get(at, (0, None, None))
        out.append(Minute(at, applied, started.get(at, 0), ended.get(at, 0), p50, p95))
    return out


def _count_by_minute(qs, field: str) -> dict[dt.datetime, int]:  # type: ignore[no-untyped-def]
    rows = qs.order_by().annotate(minute=TruncMinute(field)).values("minute").annotate(n=Count("key"))
    return {r["minute"]: r["n"] for r in rows}


def _commands(tenant_ids: list[int], since: dt.datetime) -> dict[dt.datetime, tuple[int, float, float]]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(COMMANDS_PER_MINUTE, {"since": since, "tenants": list(tenant_ids)})
            return {minute: (n, float(p50), float(p95)) for minute, n, p50, p95 in cur.fetchall()}
    seconds: dict[dt.datetime, list[float]] = {}
    rows = (Command.objects.filter(tenant_id__in=tenant_ids, state=Command.State.PROCESSED, processed_at__gte=since)
            .order_by("-id").values_list("created_at", "processed_at")[:PORTABLE_SAMPLE])
    for created, processed in rows:
        seconds.setdefault(processed.replace(second=0, microsecond=0), []).append(
            (processed - created).total_seconds())
    return {minute: (len(v), _quantile(v, 0.5), _quantile(v, 0.95)) for minute, v in seconds.items()}


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def handoff() -> Handoff:
    cumulative = metrics.histogram_buckets(metrics.handoff_seconds)
    total = int(cumulative[-1][1]) if cumulative else 0
    buckets, before = [], 0
    for bound, running in cumulative:
        buckets.append((bound, int(running) - before))
        before = int(running)

    def estimate(q: float) -> float | None:
        return next((bound for bound, running in cumulative if running >= q * total), None) if total else None

    return Handoff(buckets, total, estimate(0.5), estimate(0.95))
