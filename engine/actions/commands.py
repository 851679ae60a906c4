from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.models import Command
from engine.runtime.wake import request_drain
from flowsync.models import Tenant


def submit(
    tenant: Tenant | int, instance_key: int, kind: str, payload: dict[str, Any], actor: str, now: datetime
) -> Command:
    """Write a command in the caller's transaction and wake the engine once it commits."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    cmd = Command.objects.create(
        tenant_id=tenant_id,
        process_instance_key=instance_key,
        kind=kind,
        payload=payload,
        actor=actor[:255],
        created_at=now,
    )
    request_drain()
    return cmd
