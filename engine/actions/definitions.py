"""Operator changes to deployed definitions: deactivate a version for new instances, or reactivate it."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from engine.audit import record
from engine.errors import NotFound
from engine.models import ProcessDefinition


def set_deactivated(tenant_ids: list[int], key: int, deactivated: bool, actor: str, now: datetime) -> bool:
    """Refuse (or allow again) new instances of one definition version; running instances go on.

    False when it already was so (re-running is harmless, and writes no audit entry)."""
    with transaction.atomic():
        found = ProcessDefinition.objects.filter(key=key, tenant_id__in=tenant_ids).only("key", "tenant_id").first()
        if found is None:
            raise NotFound(f"no process definition with key {key}")
        changed = ProcessDefinition.objects.filter(key=key, deactivated=not deactivated).update(deactivated=deactivated)
        if changed:
            record(found.tenant_id, actor, "definition.deactivate" if deactivated else "definition.reactivate",
                   target_type="process-definition", target_key=key, before={"deactivated": not deactivated},
                   after={"deactivated": deactivated}, now=now)
    return bool(changed)
