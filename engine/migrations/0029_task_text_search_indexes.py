"""Indexes behind the Tasklist's text search over open tasks (PostgreSQL; the name index needs pg_trgm).

The search (engine/queries/tasks.apply_filters) matches the business key by prefix and the task and process
names by substring, case-insensitively; Django writes those as ``UPPER(col::text) LIKE UPPER(…)``. A btree on
the upper-cased business key (text_pattern_ops) serves the prefix, a GIN trigram index over the two names the
substrings: an OR of the three becomes a BitmapOr, so a rare term reads its few matches instead of filtering
every open task of the tenant. (A trigram lookup of a business key prefix would read the long posting lists
of trigrams such as "000" that most keys share: 1,100 pages for "BK-00012" at 1,000,000 tasks.) Only open
tasks: the lists that can be large are open ones; "Completed by me" is narrowed by its assignee index first.

A common term ("approve") must be known as such, or the planner gathers and sorts a million matches (1.2 s)
instead of walking the list's order and filtering (3 ms): the planner ignores a partial index's expression
statistics, so extended statistics on the three expressions (task_text_stats, PostgreSQL 14+) give it the
frequencies; they cost only ANALYZE time.

Cost per open task written (a creation, or a claim: a new row version): one btree entry and one GIN entry
per distinct trigram of the two names (~25); GIN's fastupdate puts them in a pending list that autovacuum
or an insert that outgrows gin_pending_list_limit merges. A completed task's row version is in neither.
Without pg_trgm (no privilege, contrib missing) the migration logs and leaves the name index out, as 0019
does: names are then filtered, as on SQLite. Built CONCURRENTLY, hence non-atomic.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, migrations, transaction

log = logging.getLogger(__name__)

# The expressions repeat what Django's PostgreSQL backend writes for istartswith / icontains.
KEY_INDEX = ("CREATE INDEX CONCURRENTLY IF NOT EXISTS task_open_bkey_idx ON engine_usertask "
             "((UPPER(business_key::text)) text_pattern_ops) WHERE state = 'CREATED'")
INDEX = ("CREATE INDEX CONCURRENTLY IF NOT EXISTS task_open_text_trgm_idx ON engine_usertask USING gin "
         "((UPPER(name::text)) gin_trgm_ops, (UPPER(process_name::text)) gin_trgm_ops) WHERE state = 'CREATED'")
STATISTICS = ("CREATE STATISTICS IF NOT EXISTS task_text_stats ON (UPPER(business_key::text)), "
              "(UPPER(name::text)), (UPPER(process_name::text)) FROM engine_usertask")


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(STATISTICS)
    try:
        with transaction.atomic(using=schema_editor.connection.alias):  # a failure leaves the connection usable
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as exc:
        log.warning("pg_trgm is not available (%s): task name searches run without a trigram index", exc)
        trigrams = False
    else:
        trigrams = True
    for sql in (KEY_INDEX, INDEX) if trigrams else (KEY_INDEX,):
        if schema_editor.connection.in_atomic_block:  # called inside a transaction (tests): no CONCURRENTLY there
            sql = sql.replace(" CONCURRENTLY", "")
        schema_editor.execute(sql)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS task_open_text_trgm_idx")
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS task_open_bkey_idx")
    schema_editor.execute("DROP STATISTICS IF EXISTS task_text_stats")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("engine", "0028_user_task_canceling_state")]

    operations = [migrations.RunPython(create, drop)]
