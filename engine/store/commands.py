from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection
from psycopg.types.json import Jsonb

from engine.models import Command
from engine.store import sql
from engine.store.rows import new_row
from engine.store.wake import request_drain
from flowsync import tracing
from flowsync.models import Tenant

INSERT = (
    "INSERT INTO engine_command"
    " (tenant_id, process_instance_key, kind, payload, state, actor, created_at, keys, error, traceparent)"
    " VALUES (%s, %s, %s, %s, 'PENDING', %s, %s, '[]', '', %s) RETURNING id"
)


def submit(
    tenant: Tenant | int, instance_key: int, kind: Command.Kind, payload: dict[str, Any], actor: str, now: datetime
) -> Command:
    """Write a command in the caller's transaction and wake the engine once it commits."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    cmd = new_row(
        Command, id=None, tenant_id=tenant_id, process_instance_key=instance_key, kind=kind, payload=payload,
        actor=actor[:255], created_at=now, traceparent=tracing.traceparent(),  # the request's trace, if traced
    )
    if connection.vendor == "postgresql":
        # Every API write passes here: a plain INSERT instead of the ORM's save (~1 ms less).
        cmd.id = sql.execute(INSERT, (tenant_id, instance_key, kind, Jsonb(payload), cmd.actor, now,
                                    cmd.traceparent))[0][0]
        cmd._state.adding = False
    else:
        cmd.save(force_insert=True)
    request_drain()
    return cmd
