"""How the engine is doing, for operators: workers and their heartbeats, the command backlog,
open incidents. Read by `manage.py flowsync_status`, `/readyz`, `/metrics` and the Inspector.

Every query here is bounded and index-backed: they run on each scrape and health probe.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.db.models.functions import Now
from django.utils import timezone

from engine.models import Command, Incident, Job, Message, WorkerHeartbeat
from flowsync.models import Tenant

# The API answers 503 to command-writing requests above this many pending commands
# (FLOWSYNC_BACKPRESSURE_PENDING_COMMANDS); /readyz reports not ready above it too.
BACKPRESSURE_DEFAULT = 10_000
HEARTBEAT_SECONDS_DEFAULT = 5.0
LOST_SECONDS_DEFAULT = 30.0


def backpressure_limit() -> int:
    return int(getattr(settings, "FLOWSYNC_BACKPRESSURE_PENDING_COMMANDS", BACKPRESSURE_DEFAULT))


def heartbeat_seconds() -> float:
    return float(getattr(settings, "FLOWSYNC_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS_DEFAULT))


def lost_seconds() -> float:
    return float(getattr(settings, "FLOWSYNC_HEARTBEAT_LOST_SECONDS", LOST_SECONDS_DEFAULT))


@dataclass(frozen=True)
class Backlog:
    pending: int  # counted up to `bound`; `pending > bound - 1` means "at least"
    bound: int
    oldest_age_seconds: float | None


def backlog(bound: int = 1_000_000) -> Backlog:
    """Pending commands (counted on the partial pending index, at most `bound`) and the oldest one's age."""
    pending = Command.objects.filter(state=Command.State.PENDING).values("id")[:bound].count()
    oldest = None
    if pending:
        first = (Command.objects.filter(state=Command.State.PENDING).order_by("id")
                 .values_list("created_at", flat=True).first())
        if first is not None:
            oldest = max(0.0, (db_now() - first).total_seconds())
    return Backlog(pending, bound, oldest)


# Both signals of the API's backpressure in one statement on the partial pending index: how many
# commands wait (at most the bound) and how long the oldest has waited (the engine's lag).
PRESSURE = (
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM engine_command WHERE state = 'PENDING' LIMIT %s) p),"
    " (SELECT extract(epoch FROM statement_timestamp() - created_at) FROM engine_command"
    " WHERE state = 'PENDING' ORDER BY id LIMIT 1)"
)


def pressure(bound: int) -> tuple[int, float]:
    """(pending commands, counted up to `bound`; seconds the oldest pending command has waited, 0 if none)."""
    if connection.vendor != "postgresql":
        found = backlog(bound)
        return found.pending, found.oldest_age_seconds or 0.0
    with connection.cursor() as cur:
        cur.execute(PRESSURE, [bound])
        pending, lag = cur.fetchone()
    return pending, max(0.0, float(lag or 0.0))


@dataclass(frozen=True)
class WorkerStatus:
    id: str
    host: str
    pid: int
    version: str
    started_at: datetime.datetime
    last_seen: datetime.datetime
    age_seconds: float  # since the last heartbeat
    commands_applied: int
    current_batch: int
    state: str  # "alive", "lost" or "stopped"


def workers(include_stopped_for: float = 3600.0) -> list[WorkerStatus]:
    """Every worker that is alive or lost, and those that stopped within the last hour."""
    now = db_now()
    since = now - datetime.timedelta(seconds=include_stopped_for)
    rows = WorkerHeartbeat.objects.filter(Q(stopped_at__isnull=True) | Q(stopped_at__gte=since)).order_by(
        "started_at", "id")
    lost_after = lost_seconds()
    out = []
    for row in rows:
        age = max(0.0, (now - row.last_seen).total_seconds())
        state = "stopped" if row.stopped_at else ("lost" if age > lost_after else "alive")
        out.append(WorkerStatus(row.id, row.host, row.pid, row.version, row.started_at, row.last_seen, age,
                                row.commands_applied, row.current_batch, state))
    return out


def open_incidents() -> list[tuple[str, str, int]]:
    """(tenant id, error type, count) of active incidents."""
    rows = (Incident.objects.filter(state=Incident.State.ACTIVE).values("tenant_id", "error_type")
            .annotate(n=Count("key")).order_by("tenant_id", "error_type"))
    names = dict(Tenant.objects.values_list("pk", "tenant_id"))
    return [(names.get(r["tenant_id"], str(r["tenant_id"])), r["error_type"], r["n"]) for r in rows]


def jobs_timed_out() -> list[tuple[str, str, int]]:
    """(tenant id, job type, count) of activated jobs whose lock ran out (the worker took too long or died);
    they are activatable again. Walks the partial index of activated jobs by deadline."""
    rows = (Job.objects.filter(state=Job.State.ACTIVATED, deadline__lt=Now()).values("tenant_id", "type")
            .annotate(n=Count("key")).order_by("tenant_id", "type"))
    names = dict(Tenant.objects.values_list("pk", "tenant_id"))
    return [(names.get(r["tenant_id"], str(r["tenant_id"])), r["type"], r["n"]) for r in rows]


def buffered_messages() -> int:
    return Message.objects.filter(expires_at__gt=Now()).count()


def database_connections() -> list[tuple[str, int]]:
    """Sessions on this database by state (PostgreSQL only): what the connection pool looks like from the server."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() GROUP BY 1 ORDER BY 1")
        return [(state, n) for state, n in cur.fetchall()]


def db_now() -> datetime.datetime:
    """The database's clock: heartbeats are stamped with it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT now()")
            return cur.fetchone()[0]
    return timezone.now()
