"""A trigram index behind the Tasklist's text search over open tasks (PostgreSQL with pg_trgm).

The search (engine/queries/tasks.apply_filters) matches the business key by prefix and the task and process
names by substring, case-insensitively: Django writes those as ``UPPER(col::text) LIKE UPPER(…)``, which this
one multi-column GIN index serves (a BitmapOr of its three columns), so a rare term reads its few matches
instead of filtering every open task of the tenant. Only open tasks (the lists that can be large are open
ones; "Completed by me" is narrowed by its assignee index first). A common term ("approve") must be known as
such, or the planner gathers and sorts a million matches (1.2 s) instead of walking the list's order and
filtering (3 ms): the planner ignores a partial index's expression statistics, so extended statistics on the
three expressions (task_text_stats, PostgreSQL 14+) give it the frequencies; they cost only ANALYZE time.

Cost: one GIN entry per distinct trigram of the three texts (~30-40) per task, added at creation (fastupdate:
into the pending list, merged by autovacuum or when it outgrows gin_pending_list_limit); a completed task's
row version is not in it. Without pg_trgm (no privilege, contrib missing) the migration logs and leaves the
index out, as 0019 does: the search then filters, as on SQLite. Built CONCURRENTLY, hence non-atomic.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, migrations

log = logging.getLogger(__name__)

# The expressions repeat what Django's PostgreSQL backend writes for istartswith / icontains.
INDEX = ("CREATE INDEX CONCURRENTLY IF NOT EXISTS task_open_text_trgm_idx ON engine_usertask USING gin "
         "((UPPER(business_key::text)) gin_trgm_ops, (UPPER(name::text)) gin_trgm_ops, "
         "(UPPER(process_name::text)) gin_trgm_ops) WHERE state = 'CREATED'")


STATISTICS = ("CREATE STATISTICS IF NOT EXISTS task_text_stats ON (UPPER(business_key::text)), "
              "(UPPER(name::text)), (UPPER(process_name::text)) FROM engine_usertask")


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(STATISTICS)
    try:
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as exc:
        log.warning("pg_trgm is not available (%s): task searches run without a trigram index", exc)
        return
    schema_editor.execute(INDEX)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS task_open_text_trgm_idx")
    schema_editor.execute("DROP STATISTICS IF EXISTS task_text_stats")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("engine", "0026_merge_h3_hot_path_indexes")]

    operations = [migrations.RunPython(create, drop)]
