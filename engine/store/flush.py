"""Writing a batch's rows: PostgreSQL COPY and array UPDATEs, the ORM elsewhere.

The ORM's bulk_update builds one CASE per row and field and its bulk_create adapts
every value through the expression layer; at thousands of rows per batch that was
most of the engine's time. Here each table costs one COPY (plus one UPDATE … FROM for updates);
a few updated rows go as pipelined single-row UPDATEs instead.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db import connection, models
from psycopg.types.json import Jsonb

# Up to this many rows an UPDATE per row (pipelined) beats COPY into a scratch table.
SMALL_UPDATE = 200


def _value(field: models.Field, obj: Any) -> Any:
    value = getattr(obj, field.attname)
    if isinstance(field, models.JSONField):
        return None if value is None and field.null else Jsonb(value)
    return value


def insert(model: type[models.Model], objs: list[Any]) -> None:
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, batch_size=500)
        return
    # Columns the database numbers itself (an AutoField without a value) are left to it.
    fields = [
        f
        for f in model._meta.concrete_fields
        if not (
            f.primary_key
            and getattr(objs[0], f.attname) is None
            and isinstance(f, models.AutoField | models.BigAutoField)
        )
    ]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cur:
        with cur.cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row([_value(f, obj) for f in fields])


def update(model: type[models.Model], objs: list[Any], names: list[str]) -> None:
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, names, batch_size=500)
        return
    meta = model._meta
    fields = [meta.pk, *(meta.get_field(n) for n in names)]
    q = connection.ops.quote_name
    cols = [q(f.column) for f in fields]
    if len(objs) <= SMALL_UPDATE:
        # One UPDATE per row, all in one pipeline: for a few rows, cheaper than a scratch table.
        sets = ", ".join(f"{c} = %s" for c in cols[1:])
        rows = [[*(_value(f, obj) for f in fields[1:]), obj.pk] for obj in objs]
        connection.ensure_connection()
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cur:
            cur.executemany(f"UPDATE {meta.db_table} SET {sets} WHERE {cols[0]} = %s", rows)
        return
    # COPY into a per-transaction scratch table, then one UPDATE … FROM: COPY is the cheap
    # way to ship thousands of rows (array parameters quote every element in Python).
    scratch = f"_flush_{meta.db_table}_{'_'.join(f.column for f in fields[1:])}"[:63]
    sets = ", ".join(f"{c} = v.{c}" for c in cols[1:])
    with connection.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {scratch} ON COMMIT DELETE ROWS AS "
            f"SELECT {', '.join(cols)} FROM {meta.db_table} WITH NO DATA"
        )
        with cur.cursor.copy(f"COPY {scratch} ({', '.join(cols)}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row([_value(f, obj) for f in fields])
        cur.execute(f"UPDATE {meta.db_table} AS t SET {sets} FROM {scratch} AS v WHERE t.{cols[0]} = v.{cols[0]}")
        cur.execute(f"DELETE FROM {scratch}")  # emptied at commit anyway; this is for a second batch
