"""Broadcasting a signal to a tenant: the one rule behind `POST /v2/signals/broadcast`
(engine/actions/signals.py) and signal throw events (the engine calls it when it flushes the batch
whose instances threw them, engine/runtime/extra_rows.py).

Every open signal subscription of that name in the tenant fires: a waiting catch event, boundary
event or event subprocess start gets a TRIGGER_SIGNAL command; a signal start event (a
subscription without an instance) starts an instance of its definition. Runs in the caller's
transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.keys import next_key
from engine.models import Command, ProcessDefinition, ProcessInstance, SignalSubscription
from engine.store.commands import submit
from engine.store.rows import new_row


def broadcast(tenant_id: int, name: str, variables: dict[str, Any], actor: str,
              now: datetime) -> tuple[int, list[ProcessInstance]]:
    """Fire every open subscription of `name`: (subscriptions fired, instances started)."""
    # No row locks: engine batches broadcast while they hold locks on their own subscriptions, so
    # locking others' could deadlock two batches. A subscription that closes meanwhile is harmless:
    # its instance rejects the TRIGGER_SIGNAL of an element no longer waiting.
    subs = list(SignalSubscription.objects.filter(tenant_id=tenant_id, signal_name=name,
                                                  state=SignalSubscription.State.ACTIVE).order_by("key"))
    started: list[ProcessInstance] = []
    for sub in subs:
        if sub.process_instance_key is None:
            # Read, not cached: `deactivated` is the one column of a definition that changes.
            definition = ProcessDefinition.objects.defer("source", "graph").get(key=sub.process_definition_key)
            if definition.deactivated:
                continue  # deactivated for new instances: its signal start does not fire
            key = next_key()
            instance = new_row(ProcessInstance, key=key, tenant_id=tenant_id, definition_id=definition.pk,
                               business_key="", state=ProcessInstance.State.ACTIVE, start_date=now,
                               root_instance_key=key)
            submit(tenant_id, key, Command.Kind.CREATE_INSTANCE,
                   {"variables": variables, "startElementId": sub.element_id}, actor, now, with_row=instance)
            instance.definition = definition
            started.append(instance)
            continue
        submit(tenant_id, sub.process_instance_key, Command.Kind.TRIGGER_SIGNAL, {
            "subscriptionKey": str(sub.key), "elementInstanceKey": str(sub.element_instance_key),
            "elementId": sub.element_id, "signalName": name, "variables": variables,
        }, actor, now)
    return len(subs), started
