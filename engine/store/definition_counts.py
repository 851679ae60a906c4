"""Finished instances per definition (completed, terminated), counted periodically for the Definitions
pages (engine.DefinitionCounts).

Why periodic and not kept by the engine: the engine finishes instances in batched statements from
several partitions' workers at once; a counter row per definition would be one more write per batch on
the same hot row for every worker (lock waits between partitions), paid on every instance for a page
operators open now and then. Counting every REFRESH_SECONDS from the engine workers' sweep costs one
grouped scan over the (definition, state) index (bench/inspector_counts.py: ~0.3 s at 1 M instances,
i.e. ~0.1 % of a core every 5 minutes) and nothing per instance. The pages show the counts' age. Running
instances and open incidents are counted live: they are few (ACTIVE rows of the index, active incidents).

The same count takes each definition's start-to-end times (p50, p99) of the instances completed in the
last DURATION_WINDOW, at most the latest DURATION_SAMPLE of them: a range of pi_definition_end_idx
(definition, state, end_date, start_date, key) read backwards from the newest, start dates in the index, so it
reads no table row and at most DURATION_SAMPLE entries per definition whatever the history holds.
Terminated instances are left out: they were stopped, not run to their end.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count

from engine.models import DefinitionCounts, ProcessDefinition, ProcessInstance

REFRESH_SECONDS = 300
DURATION_WINDOW = timedelta(hours=24)
DURATION_SAMPLE = 10_000
LOCK = 0x46_53_44_43  # advisory lock id ("FSDC"): one worker counts at a time, the others skip


def refresh(now: datetime, *, force: bool = False) -> bool:
    """Count again when the counts are older than REFRESH_SECONDS (force: now); False when skipped."""
    if connection.vendor != "postgresql":
        force = True  # no advisory locks: tests on other databases count when asked
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK])
                if not cur.fetchone()[0]:
                    return False
        if not force:
            oldest = DefinitionCounts.objects.order_by("counted_at").values_list("counted_at", flat=True).first()
            newest_definition = not _uncounted_exists()
            if oldest is not None and newest_definition and now - oldest < timedelta(seconds=REFRESH_SECONDS):
                return False
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute(RECOUNT, {"now": now, "since": now - DURATION_WINDOW, "sample": DURATION_SAMPLE})
        else:
            _recount_portable(now)
    return True


RECOUNT = """
INSERT INTO engine_definitioncounts (definition_id, completed, terminated, counted_at, duration_p50, duration_p99,
                                     durations)
SELECT d.key, coalesce(c.completed, 0), coalesce(c.terminated, 0), %(now)s, t.p50, t.p99, coalesce(t.n, 0)
FROM engine_processdefinition d
LEFT JOIN (
    SELECT definition_id, count(*) FILTER (WHERE state = 'COMPLETED') AS completed,
           count(*) FILTER (WHERE state = 'TERMINATED') AS terminated
    FROM engine_processinstance WHERE state IN ('COMPLETED', 'TERMINATED')
    GROUP BY definition_id) c ON c.definition_id = d.key
LEFT JOIN LATERAL (
    SELECT count(*) AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY s.seconds) AS p50,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY s.seconds) AS p99
    FROM (SELECT extract(epoch FROM p.end_date - p.start_date)::float8 AS seconds
          FROM engine_processinstance p
          WHERE p.definition_id = d.key AND p.state = 'COMPLETED' AND p.end_date >= %(since)s
            AND p.end_date <= %(now)s
          ORDER BY p.end_date DESC LIMIT %(sample)s) s) t ON true
ON CONFLICT (definition_id) DO UPDATE SET completed = EXCLUDED.completed, terminated = EXCLUDED.terminated,
    counted_at = EXCLUDED.counted_at, duration_p50 = EXCLUDED.duration_p50,
    duration_p99 = EXCLUDED.duration_p99, durations = EXCLUDED.durations
"""


def _recount_portable(now: datetime) -> None:
    """The same counts without PostgreSQL (embedded SQLite: small data), percentiles computed here."""
    finished = {
        (row["definition_id"], row["state"]): row["n"]
        for row in ProcessInstance.objects.filter(state__in=["COMPLETED", "TERMINATED"]).order_by()
        .values("definition_id", "state").annotate(n=Count("key"))
    }
    for key in ProcessDefinition.objects.values_list("key", flat=True):
        spans = (ProcessInstance.objects.filter(definition_id=key, state="COMPLETED",
                                                end_date__gte=now - DURATION_WINDOW, end_date__lte=now)
                 .order_by("-end_date").values_list("start_date", "end_date")[:DURATION_SAMPLE])
        seconds = [(end - start).total_seconds() for start, end in spans]
        DefinitionCounts.objects.update_or_create(definition_id=key, defaults={
            "completed": finished.get((key, "COMPLETED"), 0), "terminated": finished.get((key, "TERMINATED"), 0),
            "counted_at": now, "duration_p50": percentile_cont(seconds, 0.5),
            "duration_p99": percentile_cont(seconds, 0.99), "durations": len(seconds)})


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _uncounted_exists() -> bool:
    """A definition deployed since the last count: count now, so its page does not say "not counted"."""
    with connection.cursor() as cur:
        cur.execute("""SELECT EXISTS (SELECT 1 FROM engine_processdefinition d WHERE NOT EXISTS (
                           SELECT 1 FROM engine_definitioncounts c WHERE c.definition_id = d.key))""")
        return bool(cur.fetchone()[0])
