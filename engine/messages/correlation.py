"""Handing a message to a subscription: shared by publishing (engine/actions/messages.py) and by
the engine when a subscription opens while a buffered message is still alive (runtime/extra_rows.py).
"""

from __future__ import annotations

from datetime import datetime

from engine.models import Command, Message, MessageSubscription
from engine.store.commands import submit


def correlate_buffered(tenant_id: int, subscriptions: list[MessageSubscription], actor: str, now: datetime) -> None:
    """Hand buffered, unexpired messages to subscriptions that just opened (called in the engine's transaction)."""
    for sub in subscriptions:
        candidates = (
            Message.objects.select_for_update()
            .filter(tenant_id=tenant_id, name=sub.message_name, correlation_key=sub.correlation_key,
                    expires_at__gt=now)
            .order_by("key")
        )
        # At most once per instance: skip messages this instance already received.
        message = next((m for m in candidates if str(sub.process_instance_key) not in m.correlated_instances), None)
        if message is None:
            continue
        message.correlated_instances = [*message.correlated_instances, str(sub.process_instance_key)]
        message.save(update_fields=["correlated_instances"])
        hand_over(message, sub, actor, now)


def take_back(process_instance_key: int, message_keys: list[int]) -> None:
    """The instance refused these hand-overs (it no longer waited): it may receive the messages again while
    they live, as Camunda rejects such a correlation and keeps the message."""
    instance = str(process_instance_key)
    for message in Message.objects.select_for_update().filter(key__in=message_keys).order_by("key"):
        if instance in message.correlated_instances:
            message.correlated_instances = [k for k in message.correlated_instances if k != instance]
            message.save(update_fields=["correlated_instances"])


def hand_over(message: Message, sub: MessageSubscription, actor: str, now: datetime) -> None:
    """Mark the subscription taken and tell its instance, by command, which message arrived."""
    MessageSubscription.objects.filter(key=sub.key).update(state=MessageSubscription.State.CORRELATED)
    payload = {
        "subscriptionKey": str(sub.key),
        "elementInstanceKey": str(sub.element_instance_key),
        "elementId": sub.element_id,
        "messageKey": str(message.key),
        "messageName": message.name,
        "variables": message.variables,
    }
    submit(message.tenant_id, sub.process_instance_key, Command.Kind.CORRELATE_MESSAGE, payload, actor, now)
