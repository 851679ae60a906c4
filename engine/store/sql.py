"""Plain SQL on the hot paths: the engine loop's per-batch reads, job activation and completion.

A batch of a few commands spent ~25 ms in the ORM, compiling the same dozen queries every
time, and in one round trip per query; applying the commands took 0.3 ms. Here the reads
are fixed SQL strings sent in one pipeline (one round trip for all of them), and the
statements run with server-side binding, so PostgreSQL prepares them after a few runs.
Errors come out as Django's database exceptions, as from the ORM.

Rows come back as model instances built like `rows.load_rows` builds them.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from psycopg import _queries as psycopg_queries
from psycopg.adapt import Loader
from psycopg.postgres import types as pg_types
from psycopg.types.json import set_json_dumps

from engine.store.rows import load_rows, loaded

M = TypeVar("M", bound=models.Model)


def _columns(model: type[models.Model]) -> list[models.Field]:
    return list(model._meta.concrete_fields)


@dataclass(eq=False)
class Read:
    """One read of a batch: `sql` is what follows WHERE (filter, order, lock) with %s
    placeholders, for PostgreSQL; `queryset()` builds the same read for the embedded database
    (only there: building querysets is a good part of what the SQL saves)."""

    model: type[models.Model]
    sql: str
    params: tuple[Any, ...]
    queryset: Callable[[], models.QuerySet[Any]]
    rows: list[Any] = field(default_factory=list)

    def statement(self) -> str:
        return _select(self.model, self.sql)


@functools.cache
def _select(model: type[models.Model], where: str) -> str:
    cols = ", ".join(connection.ops.quote_name(f.column) for f in _columns(model))
    return f"SELECT {cols} FROM {model._meta.db_table} WHERE {where}"


# A run of 19 digits may be an integer beyond 64 bits (or a number with more digits than a double holds),
# which orjson reads as a float where json reads it exactly: such a document is read by json.
LONG_NUMBER = re.compile(rb"\d{19}")


def dump_json(value: Any) -> str:
    """A value as JSON text for a jsonb column: orjson (~5x faster than json.dumps, which was ~10% of the
    engine's CPU at large batches), else json.dumps for what orjson refuses (integers beyond 64 bits,
    non-string keys) so that what json stored before is stored the same. jsonb keeps neither key order nor
    spacing nor escapes, so the stored values are the same. (Neither encodes a Decimal; json's NaN was
    refused by PostgreSQL, orjson's is null: the engine keeps non-finite numbers out of variables.)"""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def load_json(data: bytes | memoryview) -> Any:
    """A jsonb value as `json.loads` reads it (orjson is ~3x faster, and exact below 19-digit numbers)."""
    raw = bytes(data)
    if LONG_NUMBER.search(raw):
        return json.loads(raw)
    return orjson.loads(raw)


class _JsonbLoader(Loader):
    def load(self, data: Any) -> Any:
        return load_json(data)


_TIMESTAMPTZ = pg_types["timestamptz"].oid
_JSONB = pg_types["jsonb"].oid
# psycopg's own loader (C with psycopg[binary]): Django registers a pure-Python one on its connections that
# parses the text in Python and then sets the tzinfo (~7% of the engine's CPU at large batches). The session
# runs in UTC (Django sets it with USE_TZ), so both give aware UTC datetimes.
_FAST_TIMESTAMPTZ = psycopg.adapters.get_loader(_TIMESTAMPTZ, psycopg.pq.Format.TEXT)


# psycopg caches the conversion of a statement's placeholders, but not for statements with more than 50
# parameters (its guard against an ORM's ever-different multi-row INSERTs). A batch of one instance writes
# its rows in one statement of ~70–100 parameters, so every small batch converted the same text again
# (~150–250 µs). The engine's statements come in few shapes; psycopg's cache keeps the latest 128.
if hasattr(psycopg_queries, "MAX_CACHED_STATEMENT_PARAMS"):
    psycopg_queries.MAX_CACHED_STATEMENT_PARAMS = max(psycopg_queries.MAX_CACHED_STATEMENT_PARAMS, 500)


# Our own jsonb parameters (`Jsonb(...)`: a command's payload, an audit entry's values) are written with the
# same dump_json; Django's JSONField passes its own dumps and is not affected.
set_json_dumps(dump_json)


def _reading_cursor(pg: psycopg.Connection[Any]) -> psycopg.Cursor[Any]:
    """A cursor on Django's connection that loads timestamptz with psycopg's loader and jsonb as Python values
    (Django's connection loads jsonb as text)."""
    cur = psycopg.Cursor(pg)
    cur.adapters.register_loader(_TIMESTAMPTZ, _FAST_TIMESTAMPTZ)
    cur.adapters.register_loader(_JSONB, _JsonbLoader)
    return cur


def bigint_array(values: list[int]) -> str:
    """A list of keys as a PostgreSQL array literal for a `%s::bigint[]` parameter: psycopg's list dumper
    is Python, element by element (~2% of the engine's CPU at batches of 500); this is one join in C."""
    return "{" + ",".join(map(str, values)) + "}"


def fetch(*reads: Read) -> None:
    """Run the reads in one round trip (a pipeline) and fill each one's `rows`."""
    if connection.vendor != "postgresql":
        for read in reads:
            read.rows = load_rows(read.queryset())
        return
    db = connections[DEFAULT_DB_ALIAS]  # once: each `connection.x` is a thread-local look-up
    db.ensure_connection()
    cursors = []
    with db.wrap_database_errors, db.connection.pipeline():
        for read in reads:
            # Server-side binding: Django's own cursors bind client-side, which pipelines cannot.
            cur = _reading_cursor(db.connection)
            cur.execute(read.statement(), read.params)
            cursors.append(cur)
    with db.wrap_database_errors:
        for read, cur in zip(reads, cursors, strict=True):
            read.rows = loaded(read.model, _attnames(read.model), cur.fetchall())
            cur.close()


@functools.cache
def _attnames(model: type[models.Model]) -> list[str]:
    return [f.attname for f in _columns(model)]


def _instances(model: type[M], tuples: list[tuple[Any, ...]]) -> list[M]:
    fields = _columns(model)
    json_at = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    if json_at:
        rows = [list(values) for values in tuples]
        for values in rows:
            for i in json_at:
                if values[i] is not None:
                    values[i] = json.loads(values[i])  # Django reads jsonb as text
        tuples = rows  # type: ignore[assignment]
    return loaded(model, [f.attname for f in fields], tuples)


def execute(statement: str, params: tuple[Any, ...] | list[Any] | dict[str, Any],
            repeatable: bool = False) -> list[tuple[Any, ...]]:
    """Run one fixed statement with server-side binding, so PostgreSQL prepares it after a few runs
    (Django's cursors bind client-side: re-planned every time); PostgreSQL only. Returns its rows.

    Django's execute wrappers see it as they see the ORM's statements: flowsync/dbfaults.py must know of
    a write sent outside a transaction (it may have committed) before it runs a failed request again.
    `repeatable`: running the statement again is harmless even when a first run committed and its answer
    was lost (a job activation: jobs it locked for a worker that never heard of them come back when the
    lock expires), so dbfaults may still run the request again."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each `connection.x` is a thread-local look-up
    db.ensure_connection()
    run = _execute
    for wrapper in reversed(db.execute_wrappers):
        run = functools.partial(wrapper, run)
    return run(statement, params, False, {"connection": db, "cursor": None, "repeatable": repeatable})


def _execute(statement: str, params: Any, many: bool, context: dict[str, Any]) -> list[tuple[Any, ...]]:
    db = context["connection"]
    with db.wrap_database_errors, psycopg.Cursor(db.connection) as cur:
        cur.execute(statement, params)
        # Whether it returned rows, without `description` (which builds a Column per column, every call).
        result = cur.pgresult
        return cur.fetchall() if result is not None and result.status == psycopg.pq.ExecStatus.TUPLES_OK else []


def rows_to(model: type[M], tuples: list[tuple[Any, ...]]) -> list[M]:
    """Model instances from tuples of every column of `model`, in field order."""
    return _instances(model, tuples)


def run(model: type[M], statement: str, params: tuple[Any, ...] | dict[str, Any]) -> list[M]:
    """Run one statement that returns every column of `model` (e.g. UPDATE … RETURNING); PostgreSQL only."""
    return _instances(model, execute(statement, params))

