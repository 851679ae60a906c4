"""Indexes behind the Inspector's search by variable (PostgreSQL only; SQLite searches without them).

Built CONCURRENTLY (no write lock on a big engine_variable), hence a non-atomic migration. Partial indexes
on scalar values only: a b-tree entry must stay small, and a large JSON value can never equal a short
searched one. The queries in engine/queries/inspector.py repeat each predicate so the planner can use them.
"""

from __future__ import annotations

from django.db import migrations

INDEXES = {
    # name = value for short strings, numbers and booleans
    "var_search_eq_idx": "(tenant_id, name, value) WHERE jsonb_typeof(value) IN ('string', 'number', 'boolean')"
                         " AND octet_length(value::text) <= 512",
    # name > / < number
    "var_search_num_idx": "(tenant_id, name, ((value)::numeric)) WHERE jsonb_typeof(value) = 'number'",
    # name contains text: the index narrows to (tenant, name) among string values; the match is a filter
    "var_search_str_idx": "(tenant_id, name) WHERE jsonb_typeof(value) = 'string'",
}


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON engine_variable {definition}")


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("engine", "0007_form_source")]

    operations = [migrations.RunPython(create, drop)]
