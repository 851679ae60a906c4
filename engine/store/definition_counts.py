"""Finished instances per definition (completed, terminated), counted periodically for the Definitions
pages (engine.DefinitionCounts).

Why periodic and not kept by the engine: the engine finishes instances in batched statements from
several partitions' workers at once; a counter row per definition would be one more write per batch on
the same hot row for every worker (lock waits between partitions), paid on every instance for a page
operators open now and then. Counting every REFRESH_SECONDS from the engine workers' sweep costs one
grouped scan over the (definition, state) index (bench/inspector_counts.py: ~0.3 s at 1 M instances,
i.e. ~0.1 % of a core every 5 minutes) and nothing per instance. The pages show the counts' age. Running
instances and open incidents are counted live: they are few (ACTIVE rows of the index, active incidents).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction

from engine.models import DefinitionCounts

REFRESH_SECONDS = 300
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
        with connection.cursor() as cur:
            cur.execute(
                """INSERT INTO engine_definitioncounts (definition_id, completed, terminated, counted_at)
                   SELECT d.key, coalesce(c.completed, 0), coalesce(c.terminated, 0), %s
                   FROM engine_processdefinition d LEFT JOIN (
                       SELECT definition_id, count(*) FILTER (WHERE state = 'COMPLETED') AS completed,
                              count(*) FILTER (WHERE state = 'TERMINATED') AS terminated
                       FROM engine_processinstance WHERE state IN ('COMPLETED', 'TERMINATED')
                       GROUP BY definition_id) c ON c.definition_id = d.key
                   ON CONFLICT (definition_id) DO UPDATE SET completed = EXCLUDED.completed,
                       terminated = EXCLUDED.terminated, counted_at = EXCLUDED.counted_at""",
                [now],
            )
    return True


def _uncounted_exists() -> bool:
    """A definition deployed since the last count: count now, so its page does not say "not counted"."""
    with connection.cursor() as cur:
        cur.execute("""SELECT EXISTS (SELECT 1 FROM engine_processdefinition d WHERE NOT EXISTS (
                           SELECT 1 FROM engine_definitioncounts c WHERE c.definition_id = d.key))""")
        return bool(cur.fetchone()[0])
