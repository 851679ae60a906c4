from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models
from psycopg.types.json import Jsonb

from engine.models import Command
from engine.store import flush, sql
from engine.store.rows import new_row
from engine.store.wake import CHANNEL, claim_notify, request_drain
from flowsync import tracing
from flowsync.models import Tenant

INSERT = (
    "INSERT INTO engine_command"
    " (tenant_id, process_instance_key, kind, payload, state, actor, created_at, keys, error, traceparent)"
    " VALUES (%s, %s, %s, %s, 'PENDING', %s, %s, '[]', '', %s) RETURNING id"
)
# The same INSERT waking the engine (a NOTIFY delivered at commit, engine/store/wake.py); the payload, the
# instance key, lets one engine worker answer it (engine/runtime/wake_share.py).
INSERT_AND_WAKE = INSERT + f", pg_notify('{CHANNEL}', %s)"


def submit(
    tenant: Tenant | int, instance_key: int, kind: Command.Kind, payload: dict[str, Any], actor: str, now: datetime,
    with_row: models.Model | Sequence[models.Model] | None = None,
) -> Command:
    """Write a command in the caller's transaction and wake the engine once it commits.

    `with_row`: new rows (e.g. the instance a start creates, its audit entry) inserted by the same statement.
    """
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    cmd = new_row(
        Command, id=None, tenant_id=tenant_id, process_instance_key=instance_key, kind=kind, payload=payload,
        actor=actor[:255], created_at=now, traceparent=tracing.traceparent(),  # the request's trace, if traced
    )
    if connection.vendor == "postgresql":
        # Every API write passes here: a plain INSERT instead of the ORM's save (~1 ms less), which
        # sends the transaction's wake-up too when it is the first (one statement, not two).
        wake = claim_notify()
        statement = INSERT_AND_WAKE if wake else INSERT
        params: list[Any] = [tenant_id, instance_key, kind, Jsonb(payload), cmd.actor, now, cmd.traceparent]
        if wake:
            params.append(str(instance_key))
        rows = _rows(with_row)
        if rows:
            parts, values = [], []
            for n, row in enumerate(rows):
                part, row_params = _insert_row(row)
                parts.append(f"row{n} AS ({part})")
                values += row_params
            statement = f"WITH {', '.join(parts)} {statement}"
            params = [*values, *params]
        cmd.id = sql.execute(statement, params)[0][0]
        for row in rows:
            row._state.adding = False
        cmd._state.adding = False
        if wake:
            return cmd
    else:
        for row in _rows(with_row):
            row.save(force_insert=True)
        cmd.save(force_insert=True)
    request_drain()
    return cmd


def _rows(with_row: models.Model | Sequence[models.Model] | None) -> list[models.Model]:
    if with_row is None:
        return []
    return [with_row] if isinstance(with_row, models.Model) else list(with_row)


def _insert_row(row: models.Model) -> tuple[str, list[Any]]:
    """An INSERT of one new row (a serial id left to the database) and its parameters."""
    statement, values = _insert_of(type(row), getattr(row, "pk", None) is None)
    return statement, values(row)


@functools.cache
def _insert_of(model: type[models.Model], serial_id: bool) -> tuple[str, Callable[[Any], list[Any]]]:
    fields = [f for f in model._meta.concrete_fields
              if not (serial_id and f.primary_key and isinstance(f, models.AutoField | models.BigAutoField))]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    statement = f"INSERT INTO {model._meta.db_table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
    return statement, flush.row_values(fields)
