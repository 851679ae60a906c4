"""Time partitions of the append-only logs (engine_command, engine_event) on PostgreSQL.

Both tables are partitioned by RANGE on `logged_at`, a column only the database knows (DEFAULT
now(): the transaction's start on the database's clock; the models never name it). Partitioning
by the command's own `created_at` would not do: that is the processor's clock (a timer fires with
its due time, possibly months ago), so a fresh row of a running instance could land in an old
partition while it is being dropped. `logged_at` only moves forward, so a partition whose range
ended more than a day ago receives no row again.

Partitions span FLOWSYNC_PARTITION_DAYS (7) each, aligned to Mondays (UTC), named
`<table>_pYYYYMMDD` after their first day; `ensure()` creates the current one and
FLOWSYNC_PARTITIONS_AHEAD (4) more (the engine workers' retention run and `manage.py
flowsync_partitions` call it). A DEFAULT partition catches rows nothing else covers (nobody ran
`ensure` for weeks); `ensure` moves them into the partition it creates for them.

Expiring history: the row cleanup (engine/store/retention.py) deletes finished instance trees
from every other table and leaves their commands and events; `drop_expired()` then drops a whole
partition once its range is over and none of its rows belongs to an instance that still exists
(nor is a pending command). A month of a long-running instance's early commands keeps its
partition until that instance is gone too. Dropping takes the parent's ACCESS EXCLUSIVE lock for
an instant, with a short lock_timeout so it never queues the engine behind a long transaction:
when it cannot get the lock it tries again at the next run.

SQLite (embedded mode) keeps plain tables; every function here is then a no-op.
"""

from __future__ import annotations

import datetime
import logging
import re
import time
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import OperationalError, connection, transaction

log = logging.getLogger("flowsync.retention")

TABLES = ("engine_command", "engine_event")
LOGS = ("commands", "events")  # their names in the cleanup's tally (engine/store/archive.py OWNED)
# Partitions start on Mondays (UTC): 2000-01-03 was one.
EPOCH = datetime.datetime(2000, 1, 3, tzinfo=datetime.UTC)
# A partition whose range ended this long ago can no longer receive rows (logged_at is a transaction's start).
SETTLED = datetime.timedelta(days=1)
# Creating and dropping wait at most this long for the parent's lock: a queued request stalls its writers.
PARENT_LOCK_TIMEOUT_MS = 500
RECHECK_SECONDS = 3600.0
# Partitions found still needed, and when this process may read them again.
_recheck_at: dict[str, float] = {}


@dataclass(frozen=True)
class Partition:
    table: str
    name: str
    lower: datetime.datetime | None  # None: MINVALUE (the pre-partitioning rows) or the DEFAULT partition
    upper: datetime.datetime | None
    default: bool = False


def enabled() -> bool:
    """Whether the logs are partitioned here (PostgreSQL after migration 0012)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                    "WHERE c.relname = ANY(%s)", [list(TABLES)])
        return cur.fetchone()[0] == len(TABLES)


def interval() -> datetime.timedelta:
    return datetime.timedelta(days=max(1, settings.FLOWSYNC_PARTITION_DAYS))


def interval_start(moment: datetime.datetime) -> datetime.datetime:
    span = interval()
    return EPOCH + span * ((moment.astimezone(datetime.UTC) - EPOCH) // span)


_BOUND = re.compile(r"FROM \((.+?)\) TO \((.+?)\)")


def _moment(text: str) -> datetime.datetime | None:
    text = text.strip("'")
    if text == "MINVALUE" or text == "MAXVALUE":
        return None
    return datetime.datetime.fromisoformat(re.sub(r"([+-]\d\d)$", r"\1:00", text))


def partitions(table: str) -> list[Partition]:
    """The partitions of one log table, oldest first (the DEFAULT partition last)."""
    with transaction.atomic(), connection.cursor() as cur:
        # Bounds printed in UTC whatever the session's zone (for this transaction only).
        cur.execute("SELECT set_config('TimeZone', 'UTC', true)")
        cur.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass", [table])
        rows = cur.fetchall()
    out = []
    for name, bound in rows:
        if bound == "DEFAULT":
            out.append(Partition(table, name, None, None, default=True))
            continue
        low, high = _BOUND.search(bound).groups()  # type: ignore[union-attr]
        out.append(Partition(table, name, _moment(low), _moment(high)))
    return sorted(out, key=lambda p: (p.default, p.lower or datetime.datetime.min.replace(tzinfo=datetime.UTC)))


def ensure(now: datetime.datetime) -> list[str]:
    """Create the partition holding `now` and FLOWSYNC_PARTITIONS_AHEAD after it where missing; their names."""
    if not enabled():
        return []
    ahead = settings.FLOWSYNC_PARTITIONS_AHEAD
    first = interval_start(now)
    made = []
    for table in TABLES:
        existing = [p for p in partitions(table) if not p.default]
        for k in range(ahead + 1):
            lower = first + interval() * k
            upper = lower + interval()
            overlapping = [p for p in existing if _overlaps(p, lower, upper)]
            if overlapping:
                # Only the legacy partition ends inside an interval (it ends on a Monday): fill the rest.
                if len(overlapping) > 1 or overlapping[0].upper is None or overlapping[0].upper >= upper:
                    continue
                lower = overlapping[0].upper
            name = _create(table, lower, upper)
            if name:
                made.append(name)
    if made:
        log.info("created log partitions %s", ", ".join(made))
    return made


def _overlaps(p: Partition, lower: datetime.datetime, upper: datetime.datetime) -> bool:
    return (p.lower is None or p.lower < upper) and (p.upper is None or lower < p.upper)


PARTITION_LOCK = 0x0F10_5A7C  # advisory lock key: creating log partitions


def _create(table: str, lower: datetime.datetime, upper: datetime.datetime) -> str | None:
    """The partition's name, or None when the parent was too busy to lock at once (next run tries again)."""
    name = f"{table}_p{lower:%Y%m%d}"
    default = f"{table}_default"
    try:
        with transaction.atomic(), connection.cursor() as cur:
            # One creator at a time: two engine workers starting together each took their locks on the parent
            # in turn and deadlocked. After the wait, the partition may exist already (made by the other).
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [PARTITION_LOCK])
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
            if cur.fetchone()[0]:
                return name
            # Both locks first, before this transaction writes anything: waiting for them while holding
            # rows (or even a transaction id) let an engine batch wait on us while we waited on it.
            # Briefly: a queued ACCESS EXCLUSIVE request stalls every writer of the parent behind it.
            cur.execute("SELECT set_config('lock_timeout', %s, true)", [f"{PARENT_LOCK_TIMEOUT_MS}ms"])
            cur.execute(f"LOCK TABLE {table}, {default} IN ACCESS EXCLUSIVE MODE")
            cur.execute("SELECT set_config('lock_timeout', '0', true)")
            # Rows the DEFAULT partition caught for this range would make CREATE … PARTITION OF fail:
            # they move out first and back in (into the new partition) in the same transaction.
            cur.execute(f"CREATE TEMP TABLE _moving (LIKE {table}) ON COMMIT DROP")
            cur.execute(f"WITH gone AS (DELETE FROM {default} WHERE logged_at >= %s AND logged_at < %s RETURNING *) "
                        "INSERT INTO _moving SELECT * FROM gone", [lower, upper])
            cur.execute(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM (%s) TO (%s)", [lower, upper])
            cur.execute(f"INSERT INTO {table} SELECT * FROM _moving")
            cur.execute("DROP TABLE _moving")
    except OperationalError as exc:
        if not isinstance(exc.__cause__, psycopg.errors.LockNotAvailable):
            raise
        log.info("partition %s not created: %s is busy; next run", name, table)
        return None
    return name


def drop_expired(now: datetime.datetime, before: datetime.datetime) -> dict[str, int]:
    """Drop every settled partition ending before `before` none of whose rows is still needed; rows dropped
    per table ('commands', 'events'). `before` is the latest retention cutoff: a row logged after it
    belongs to an instance that cannot have been deleted yet, so later partitions are not even read."""
    if not enabled():
        return {}
    dropped: dict[str, int] = {}
    for table in TABLES:
        for p in partitions(table):
            if p.default or p.upper is None or p.upper > min(now - SETTLED, before):
                continue
            if _recheck_at.get(p.name, 0.0) > time.monotonic():
                continue
            if _needed(p):
                # Reading a big partition to find it still needed costs a scan: not again for an hour.
                _recheck_at[p.name] = time.monotonic() + RECHECK_SECONDS
                continue
            rows = _drop(p)
            if rows is not None:
                label = LOGS[TABLES.index(table)]
                dropped[label] = dropped.get(label, 0) + rows
    return dropped


def _needed(p: Partition) -> bool:
    """A row of an instance that still exists, or a pending command (a CREATE_INSTANCE's instance is not yet)."""
    pending = f"EXISTS (SELECT 1 FROM {p.name} WHERE state = 'PENDING') OR " if p.table == "engine_command" else ""
    with connection.cursor() as cur:
        cur.execute(f"SELECT {pending}EXISTS (SELECT 1 FROM {p.name} r JOIN engine_processinstance pi "
                    "ON pi.key = r.process_instance_key)")
        return bool(cur.fetchone()[0])


def _drop(p: Partition) -> int | None:
    """Rows in the dropped partition, or None when its lock was not to be had at once."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {p.name}")
        rows = cur.fetchone()[0]
        cur.execute("SHOW lock_timeout")
        before = cur.fetchone()[0]
        try:
            with transaction.atomic():
                cur.execute("SELECT set_config('lock_timeout', %s, true)", [f"{PARENT_LOCK_TIMEOUT_MS}ms"])
                cur.execute(f"ALTER TABLE {p.table} DETACH PARTITION {p.name}")
                cur.execute(f"DROP TABLE {p.name}")
                cur.execute("SELECT set_config('lock_timeout', %s, true)", [before])
        except OperationalError as exc:
            if not isinstance(exc.__cause__, psycopg.errors.LockNotAvailable):
                raise
            log.info("partition %s not dropped: %s is busy; next run", p.name, p.table)
            return None
    log.info("dropped log partition %s (%d rows, %s to %s)", p.name, rows,
             p.lower.isoformat() if p.lower else "the start", p.upper.isoformat() if p.upper else "")
    return rows
