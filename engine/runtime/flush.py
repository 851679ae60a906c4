"""Writing a batch's rows: PostgreSQL COPY and array UPDATEs, the ORM elsewhere.

The ORM's bulk_update builds one CASE per row and field and its bulk_create adapts
every value through the expression layer; at thousands of rows per batch that was
most of the engine's time. Here each table costs one COPY or one UPDATE … FROM unnest.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, models
from psycopg.types.json import Jsonb

# Postgres array types for the columns the engine updates.
_ARRAY_TYPES = {
    "BigIntegerField": "bigint[]",
    "BigAutoField": "bigint[]",
    "IntegerField": "integer[]",
    "PositiveIntegerField": "integer[]",
    "BooleanField": "boolean[]",
    "CharField": "text[]",
    "TextField": "text[]",
    "DateTimeField": "timestamptz[]",
    "JSONField": "jsonb[]",
}


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
    fields = [f for f in model._meta.concrete_fields]
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
    pk = meta.pk
    fields = [meta.get_field(n) for n in names]
    q = connection.ops.quote_name
    sets = ", ".join(f"{q(f.column)} = v.{q(f.column)}" for f in fields)
    selects = ", ".join(
        f"unnest(%s::{_ARRAY_TYPES[f.get_internal_type()]}) AS {q(f.column)}" for f in [pk, *fields]
    )
    params = [[_value(f, o) for o in objs] for f in [pk, *fields]]
    sql = (f"UPDATE {meta.db_table} AS t SET {sets} FROM (SELECT {selects}) AS v "
           f"WHERE t.{q(pk.column)} = v.{q(pk.column)}")
    with connection.cursor() as cur:
        cur.execute(sql, params)
