"""Writing a batch's rows: PostgreSQL COPY and array UPDATEs, the ORM elsewhere.

The ORM's bulk_update builds one CASE per row and field and its bulk_create adapts
every value through the expression layer; at thousands of rows per batch that was
most of the engine's time. Here each table costs one COPY for new rows and one UPDATE … FROM
for changed ones (from a VALUES list, or for many rows from a scratch table filled by COPY).
"""

from __future__ import annotations

import functools
from operator import itemgetter
from typing import Any

from django.db import connection, models

from engine.store import sql
from engine.store.sql import dump_json

# Up to this many rows an UPDATE from a VALUES list beats COPY into a scratch table.
SMALL_UPDATE = 200
# A statement takes at most 65,535 parameters; a combined write sends another statement before that.
MAX_PARAMS = 30_000


def row_values(fields: list[models.Field]) -> Any:
    """A function obj → the row's values for `fields` (JSON as its text, which COPY and a VALUES list cast to
    jsonb; a null JSON column's None kept as NULL). What to do with each column is decided once per table,
    not per value: deciding it per value was 15% of the engine's CPU."""
    names = [f.attname for f in fields]
    json_at = [(i, f.null) for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    # Every column's value in one C call (the rows the engine writes carry every field in their __dict__);
    # a loop over the fields in Python was ~6% of the engine's CPU at large batches.
    get = itemgetter(*names) if len(names) > 1 else (lambda data: (data[names[0]],))

    def row(obj: Any) -> list[Any]:
        try:
            out = list(get(obj.__dict__))
        except KeyError:  # a deferred field: loaded as Django loads it
            out = [getattr(obj, name) for name in names]
        for i, json_null in json_at:
            value = out[i]
            if not (value is None and json_null):
                out[i] = dump_json(value)
        return out

    return row


def _numbered(model: type[models.Model], objs: list[Any]) -> bool:
    """Whether the database numbers the rows itself (an AutoField key without a value): its column is left out."""
    pk = model._meta.pk
    return isinstance(pk, models.AutoField | models.BigAutoField) and getattr(objs[0], pk.attname) is None


# What a table's INSERT and UPDATE look like is decided once per process, not per batch: building the
# column lists (a quote_name through Django's connection proxy per column) was ~10% of a one-command batch.
@functools.cache
def _insert_shape(model: type[models.Model], numbered: bool) -> tuple[str, str, Any]:
    """(one row's placeholders, the column list, obj → the row's values) of an INSERT."""
    fields = [f for f in model._meta.concrete_fields if not (numbered and f.primary_key)]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    return "(" + ", ".join(["%s"] * len(fields)) + ")", columns, row_values(fields)


@functools.cache
def _update_shape(model: type[models.Model], names: tuple[str, ...]) -> tuple[str, str, str, str, Any]:
    """(one row's cast placeholders, the SET list, the VALUES column list, the key column, obj → values)."""
    meta = model._meta
    fields = [meta.pk, *(meta.get_field(n) for n in names)]
    cols = [connection.ops.quote_name(f.column) for f in fields]
    row = "(" + ", ".join(f"%s::{f.cast_db_type(connection)}" for f in fields) + ")"
    sets = ", ".join(f"{c} = v.{c}" for c in cols[1:])
    return row, sets, ", ".join(cols), cols[0], row_values(fields)


def insert(model: type[models.Model], objs: list[Any]) -> None:
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, batch_size=500)
        return
    _, columns, row = _insert_shape(model, _numbered(model, objs))
    with connection.cursor() as cur:
        with cur.cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row(row(obj))


def _small_update(model: type[models.Model], objs: list[Any], names: list[str]) -> tuple[str, list[Any]]:
    """One UPDATE … FROM (VALUES …) for all rows: one statement where a pipelined UPDATE per row
    sent one each (a batch of 50 instances sent ~300). Each value is cast to its column's type, or
    a NULL in the first row would leave the VALUES column untyped."""
    row, sets, cols, key, make = _update_shape(model, tuple(names))
    params = [value for obj in objs for value in make(obj)]
    return (f"UPDATE {model._meta.db_table} AS t SET {sets} FROM (VALUES {', '.join([row] * len(objs))}) "
            f"AS v({cols}) WHERE t.{key} = v.{key}"), params


def _small_insert(model: type[models.Model], objs: list[Any]) -> tuple[str, list[Any]]:
    """One INSERT … VALUES for all rows (its types come from the table's columns)."""
    row, columns, make = _insert_shape(model, _numbered(model, objs))
    params = [value for obj in objs for value in make(obj)]
    return f"INSERT INTO {model._meta.db_table} ({columns}) VALUES {', '.join([row] * len(objs))}", params


class Writes:
    """The row writes of one engine batch, sent together by `send`.

    A small batch (a few instances, the low-rate case) sends them all as one statement, each
    INSERT and UPDATE a data-modifying WITH (PostgreSQL runs every one of them to completion
    whether or not it is read): one round trip where a batch of one completion sent five. The
    writes must touch distinct rows (a statement's parts do not see one another's changes), as
    the engine's do: a row is either created or dirty in a batch, never both. Foreign keys are
    checked at commit (DEFERRABLE INITIALLY DEFERRED). A table with more rows than SMALL_UPDATE
    keeps its own COPY (and UPDATE from a scratch table)."""

    def __init__(self) -> None:
        self.inserts: list[tuple[type[models.Model], list[Any]]] = []
        self.updates: list[tuple[type[models.Model], list[Any], list[str]]] = []

    def insert(self, model: type[models.Model], objs: list[Any]) -> None:
        if objs:
            self.inserts.append((model, objs))

    def update(self, model: type[models.Model], objs: list[Any], names: list[str]) -> None:
        if objs:
            self.updates.append((model, objs, names))

    def send(self) -> None:
        if connection.vendor != "postgresql":
            for model, objs in self.inserts:
                insert(model, objs)
            for model, objs, names in self.updates:
                update(model, objs, names)
            return
        parts: list[str] = []
        params: list[Any] = []
        for model, objs in self.inserts:
            if len(objs) > SMALL_UPDATE:
                insert(model, objs)  # COPY
                continue
            statement, values = _small_insert(model, objs)
            if len(params) + len(values) > MAX_PARAMS:
                _send(parts, params)
                parts, params = [], []
            parts.append(statement)
            params += values
        for model, objs, names in self.updates:
            if len(objs) > SMALL_UPDATE:
                update(model, objs, names)  # COPY into a scratch table, one UPDATE
                continue
            statement, values = _small_update(model, objs, names)
            if len(params) + len(values) > MAX_PARAMS:
                _send(parts, params)
                parts, params = [], []
            parts.append(statement)
            params += values
        _send(parts, params)


def _send(parts: list[str], params: list[Any]) -> None:
    """The statements as one: all but the last as data-modifying WITHs."""
    if not parts:
        return
    *first, last = parts
    if first:
        last = "WITH " + ", ".join(f"w{i} AS ({part})" for i, part in enumerate(first)) + " " + last
    sql.execute(last, params)


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
        sql.execute(statement, params)
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
