"""A trigram index behind the Inspector's variable `contains` search (PostgreSQL with pg_trgm).

pg_trgm ships with PostgreSQL (contrib) and is a trusted extension since PostgreSQL 13: the database owner
or any role with CREATE on the database may install it (our test and run set-ups connect as postgres).
Where it cannot be installed (no privilege, contrib package missing) the migration logs why and leaves
the index out: `contains` then works as before, narrowed by var_search_str_idx (tenant, name) and a filter
over every string value of that name (docs/inspector.md). Built CONCURRENTLY (no write lock on a big
engine_variable), hence non-atomic, like 0008.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, migrations

log = logging.getLogger(__name__)

# Only string values (what `contains` matches); the queries in engine/queries/inspector.py repeat the predicate.
INDEX = ("CREATE INDEX CONCURRENTLY IF NOT EXISTS var_search_trgm_idx ON engine_variable "
         "USING gin ((value #>> '{}') gin_trgm_ops) WHERE jsonb_typeof(value) = 'string'")


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as exc:
        log.warning("pg_trgm is not available (%s): variable 'contains' searches run without a trigram index", exc)
        return
    schema_editor.execute(INDEX)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS var_search_trgm_idx")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("engine", "0018_definition_counts")]

    operations = [migrations.RunPython(create, drop)]
