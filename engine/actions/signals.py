from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from engine.audit import record
from engine.errors import InvalidInput
from engine.keys import next_key
from engine.messages.signals import broadcast
from flowsync.models import Tenant


def broadcast_signal(tenant: Tenant, name: str, variables: dict[str, Any] | None, actor: str, now: datetime) -> int:
    """Trigger every open signal catch event and start every signal start event of the tenant
    (the rule itself is engine/messages/signals.py, which signal throw events use too)."""
    if not name:
        raise InvalidInput("signalName must not be empty")
    if variables is not None and not isinstance(variables, dict):
        raise InvalidInput("variables must be a JSON object")
    with transaction.atomic():
        signal_key = next_key()
        fired, started = broadcast(tenant.pk, name, variables or {}, actor, now)
        for instance in started:
            definition = instance.definition
            record(tenant, actor, "instance.start", target_type="process-instance", target_key=instance.key,
                   instance_key=instance.key,
                   after={"definitionKey": str(definition.key), "bpmnProcessId": definition.bpmn_process_id,
                          "version": definition.version, "businessKey": "", "variables": sorted(variables or {})},
                   now=now)
        record(tenant, actor, "signal.broadcast", target_type="signal", target_key=signal_key,
               after={"name": name, "variables": sorted(variables or {}), "subscriptions": fired}, now=now)
    return signal_key
