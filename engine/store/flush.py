"""Writing a batch's rows: PostgreSQL COPY and array UPDATEs, the ORM elsewhere.

The ORM's bulk_update builds one CASE per row and field and its bulk_create adapts
every value through the expression layer; at thousands of rows per batch that was
most of the engine's time. Here each table costs one COPY for new rows and one UPDATE … FROM
for changed ones (from a VALUES list, or for many rows from a scratch table filled by COPY).
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db import connection, models
from psycopg.types.json import Jsonb

# Up to this many rows an UPDATE from a VALUES list beats COPY into a scratch table.
SMALL_UPDATE = 200


def row_values(fields: list[models.Field]) -> Any:
    """A function obj → the row's values for `fields` (JSON wrapped as Jsonb, a null JSON column's
    None kept as NULL). What to do with each column is decided once per table, not per value:
    deciding it per value was 15% of the engine's CPU."""
    plain = [(f.attname, None) if not isinstance(f, models.JSONField) else (f.attname, f.null) for f in fields]

    def row(obj: Any) -> list[Any]:
        values = obj.__dict__
        out = []
        for name, json_null in plain:
            value = values[name] if name in values else getattr(obj, name)
            if json_null is not None and not (value is None and json_null):
                value = Jsonb(value)
            out.append(value)
        return out

    return row


def _insert_fields(model: type[models.Model], objs: list[Any]) -> list[models.Field]:
    # Columns the database numbers itself (an AutoField without a value) are left to it.
    return [
        f
        for f in model._meta.concrete_fields
        if not (
            f.primary_key
            and getattr(objs[0], f.attname) is None
            and isinstance(f, models.AutoField | models.BigAutoField)
        )
    ]


def insert(model: type[models.Model], objs: list[Any]) -> None:
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, batch_size=500)
        return
    fields = _insert_fields(model, objs)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    row = row_values(fields)
    with connection.cursor() as cur:
        with cur.cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row(row(obj))


def _small_update(model: type[models.Model], objs: list[Any], names: list[str]) -> tuple[str, list[Any]]:
    """One UPDATE … FROM (VALUES …) for all rows: one statement where a pipelined UPDATE per row
    sent one each (a batch of 50 instances sent ~300). Each value is cast to its column's type, or
    a NULL in the first row would leave the VALUES column untyped."""
    meta = model._meta
    fields = [meta.pk, *(meta.get_field(n) for n in names)]
    cols = [connection.ops.quote_name(f.column) for f in fields]
    row = "(" + ", ".join(f"%s::{f.cast_db_type(connection)}" for f in fields) + ")"
    sets = ", ".join(f"{c} = v.{c}" for c in cols[1:])
    make = row_values(fields)
    params = [value for obj in objs for value in make(obj)]
    return (f"UPDATE {meta.db_table} AS t SET {sets} FROM (VALUES {', '.join([row] * len(objs))}) "
            f"AS v({', '.join(cols)}) WHERE t.{cols[0]} = v.{cols[0]}"), params


def insert_and_update(model: type[models.Model], objs: list[Any], other: type[models.Model], others: list[Any],
                      names: list[str]) -> None:
    """INSERT `objs` and UPDATE `names` of `others` in one statement (the UPDATE as a data-modifying
    WITH, which PostgreSQL runs whether or not it is read): a batch's events and its commands' new
    states, one statement and round trip less per batch. Small batches only (VALUES lists)."""
    if (connection.vendor != "postgresql" or not objs or not others
            or len(objs) > SMALL_UPDATE or len(others) > SMALL_UPDATE):
        insert(model, objs)
        update(other, others, names)
        return
    fields = _insert_fields(model, objs)
    updating, params = _small_update(other, others, names)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    make = row_values(fields)
    params += [value for obj in objs for value in make(obj)]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cur:
        cur.execute(f"WITH updated AS ({updating}) INSERT INTO {model._meta.db_table} ({columns}) "
                    f"VALUES {', '.join([row] * len(objs))}", params)


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
        statement, params = _small_update(model, objs, names)
        connection.ensure_connection()
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cur:
            cur.execute(statement, params)
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
        make = row_values(fields)
        with cur.cursor.copy(f"COPY {scratch} ({', '.join(cols)}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row(make(obj))
        cur.execute(f"UPDATE {meta.db_table} AS t SET {sets} FROM {scratch} AS v WHERE t.{cols[0]} = v.{cols[0]}")
        cur.execute(f"DELETE FROM {scratch}")  # emptied at commit anyway; this is for a second batch
