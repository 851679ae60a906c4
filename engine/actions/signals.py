from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from engine.actions.instances import start_instance
from engine.audit import record
from engine.errors import InvalidInput
from engine.keys import next_key
from engine.models import Command, ProcessDefinition, SignalSubscription
from engine.store.commands import submit
from flowsync.models import Tenant


def broadcast_signal(tenant: Tenant, name: str, variables: dict[str, Any] | None, actor: str, now: datetime) -> int:
    """Trigger every open signal catch event and start every signal start event of the tenant."""
    if not name:
        raise InvalidInput("signalName must not be empty")
    if variables is not None and not isinstance(variables, dict):
        raise InvalidInput("variables must be a JSON object")
    with transaction.atomic():
        signal_key = next_key()
        subs = list(
            SignalSubscription.objects.select_for_update()
            .filter(tenant=tenant, signal_name=name, state=SignalSubscription.State.ACTIVE)
            .order_by("key")
        )
        for sub in subs:
            if sub.process_instance_key is None:
                definition = ProcessDefinition.objects.get(key=sub.process_definition_key)
                start_instance(tenant, definition, variables, actor, now, start_element_id=sub.element_id)
                continue
            submit(
                tenant,
                sub.process_instance_key,
                Command.Kind.TRIGGER_SIGNAL,
                {
                    "subscriptionKey": str(sub.key),
                    "elementInstanceKey": str(sub.element_instance_key),
                    "elementId": sub.element_id,
                    "signalName": name,
                    "variables": variables or {},
                },
                actor,
                now,
            )
        record(tenant, actor, "signal.broadcast", target_type="signal", target_key=signal_key,
               after={"name": name, "variables": sorted(variables or {}), "subscriptions": len(subs)}, now=now)
    return signal_key
