"""Publishing and correlating messages.

A message goes to every instance with an open subscription for its name and
correlation key (once per instance) and starts the latest version of each process
with a matching message start event. With a time to live it is buffered: a
subscription that opens later picks it up (`correlate_buffered`, run by the engine
loop right after it opened subscriptions).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q

from engine.actions.durations import after
from engine.actions.instances import start_instance
from engine.audit import record
from engine.errors import Conflict, InvalidInput, NotFound
from engine.keys import next_key
from engine.messages.correlation import hand_over
from engine.models import Message, MessageSubscription, ProcessDefinition
from flowsync import metrics
from flowsync.models import Tenant


def _check(name: str, variables: Any) -> None:
    if not name:
        raise InvalidInput("the message name must not be empty")
    if variables is not None and not isinstance(variables, dict):
        raise InvalidInput("variables must be a JSON object")


def publish_message(
    tenant: Tenant,
    name: str,
    correlation_key: str,
    ttl_ms: int,
    message_id: str,
    variables: dict[str, Any] | None,
    actor: str,
    now: datetime,
) -> int:
    _check(name, variables)
    if ttl_ms < 0:
        raise InvalidInput("timeToLive must not be negative")
    with transaction.atomic():
        if (
            message_id
            and Message.objects.filter(tenant=tenant, name=name, message_id=message_id, expires_at__gt=now).exists()
        ):
            raise Conflict(f"a message with id '{message_id}' was already published and is still buffered")
        if message_id:
            # An expired message with the same id no longer counts; the unique index must not refuse the new one.
            Message.objects.filter(tenant=tenant, name=name, message_id=message_id).delete()
        message = Message.objects.create(
            key=next_key(),
            tenant=tenant,
            name=name,
            correlation_key=correlation_key or "",
            message_id=message_id or "",
            variables=variables or {},
            published_at=now,
            expires_at=after(now, ttl_ms),
        )
        correlated = _correlate(message, actor, now)
        _audit(message, "message.publish", actor, correlated, now)
    _count(tenant, correlated)
    return message.key


def correlate_message(
    tenant: Tenant, name: str, correlation_key: str, variables: dict[str, Any] | None, actor: str, now: datetime
) -> tuple[int, int]:
    """Correlate now or fail: returns (message key, first process instance key); 404 when nothing waits."""
    _check(name, variables)
    with transaction.atomic():
        message = Message.objects.create(
            key=next_key(),
            tenant=tenant,
            name=name,
            correlation_key=correlation_key or "",
            message_id="",
            variables=variables or {},
            published_at=now,
            expires_at=now,
        )
        instances = _correlate(message, actor, now)
        if not instances:
            raise NotFound(f"no process instance waits for message '{name}' with correlation key '{correlation_key}'")
        _audit(message, "message.correlate", actor, instances, now)
    _count(tenant, instances)
    return message.key, instances[0]


def _audit(message: Message, what: str, actor: str, instances: list[int], now: datetime) -> None:
    # Variable names only (values may be personal data); the instances it reached or started.
    record(message.tenant_id, actor, what, target_type="message", target_key=message.key,
           instance_key=instances[0] if len(instances) == 1 else None,
           after={"name": message.name, "correlationKey": message.correlation_key, "messageId": message.message_id,
                  "variables": sorted(message.variables or {}), "instances": [str(k) for k in instances]}, now=now)


def _count(tenant: Tenant, correlated: list[int]) -> None:
    metrics.messages.labels(tenant.tenant_id, "published").inc()
    if correlated:
        metrics.messages.labels(tenant.tenant_id, "correlated").inc(len(correlated))


def _correlate(message: Message, actor: str, now: datetime) -> list[int]:
    subs = list(
        MessageSubscription.objects.select_for_update()
        .filter(tenant_id=message.tenant_id, message_name=message.name, state=MessageSubscription.State.ACTIVE)
        .filter(Q(correlation_key=message.correlation_key) | Q(process_instance_key__isnull=True))
        .order_by("key")
    )
    done: set[int] = {int(k) for k in message.correlated_instances}
    instances: list[int] = []
    for sub in subs:
        if sub.process_instance_key is None or sub.process_instance_key in done:
            continue
        done.add(sub.process_instance_key)
        hand_over(message, sub, actor, now)
        instances.append(sub.process_instance_key)
    instances += _start_by_message(message, subs, actor, now)
    message.correlated_instances = [str(k) for k in sorted(done | set(instances))]
    message.save(update_fields=["correlated_instances"])
    return instances


def _start_by_message(message: Message, subs: list[MessageSubscription], actor: str, now: datetime) -> list[int]:
    started = []
    seen: set[str] = set()
    for sub in subs:
        if sub.process_instance_key is not None or sub.bpmn_process_id in seen:
            continue
        seen.add(sub.bpmn_process_id)
        definition = ProcessDefinition.objects.get(key=sub.process_definition_key)
        instance = start_instance(
            message.tenant, definition, message.variables, actor, now, start_element_id=sub.element_id
        )
        started.append(instance.key)
    return started
