"""A deployed flow's triggers as rows: kept per flow id, so a webhook's URL and secret survive new versions.

Schedules run as timer start events of the compiled graph (the timer sweep fires each tick once,
with SKIP LOCKED, however many workers run); their row here is what the API lists.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from engine.models import FlowTrigger
from engine.runtime import chains
from flowsync.models import Tenant


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def sync_triggers(tenant: Tenant, doc: dict[str, Any], now: datetime) -> None:
    """Create or update the document's triggers; those it no longer declares are disabled."""
    declared = {t["id"]: t for t in doc.get("triggers", [])}
    existing = {t.trigger_id: t for t in FlowTrigger.objects.select_for_update().filter(tenant=tenant,
                                                                                        flow_id=doc["id"])}
    for trigger_id, spec in declared.items():
        config = {k: v for k, v in spec.items() if k not in ("id", "kind", "enabled", "auth")}
        row = existing.get(trigger_id)
        if row is None:
            FlowTrigger.objects.create(
                tenant=tenant, flow_id=doc["id"], trigger_id=trigger_id, kind=spec["kind"],
                enabled=spec.get("enabled", True), token=secrets.token_urlsafe(24), auth=spec.get("auth", "hmac"),
                secret=new_secret(), config=config, created_at=now, updated_at=now,
            )
            continue
        row.kind, row.enabled, row.auth, row.config, row.updated_at = (
            spec["kind"], spec.get("enabled", True), spec.get("auth", "hmac"), config, now)
        row.save(update_fields=["kind", "enabled", "auth", "config", "updated_at"])
    FlowTrigger.objects.filter(tenant=tenant, flow_id=doc["id"]).exclude(trigger_id__in=list(declared)).update(
        enabled=False, updated_at=now)
    chains.forget()  # this process sees new chain triggers at once (others within chains.CACHE_SECONDS)
