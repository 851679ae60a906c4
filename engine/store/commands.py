from __future__ import annotations

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
    with_row: models.Model | None = None,
) -> Command:
    """Write a command in the caller's transaction and wake the engine once it commits.

    `with_row`: a new row (e.g. the instance a start creates) inserted by the same statement.
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
        if with_row is not None:
            fields = list(type(with_row)._meta.concrete_fields)
            statement = (f"WITH row AS (INSERT INTO {type(with_row)._meta.db_table} "
                         f"({', '.join(connection.ops.quote_name(f.column) for f in fields)}) "
                         f"VALUES ({', '.join(['%s'] * len(fields))})) {statement}")
            params = [*flush.row_values(fields)(with_row), *params]
            with_row._state.adding = False
        cmd.id = sql.execute(statement, params)[0][0]
        cmd._state.adding = False
        if wake:
            return cmd
    else:
        if with_row is not None:
            with_row.save(force_insert=True)
        cmd.save(force_insert=True)
    request_drain()
    return cmd
