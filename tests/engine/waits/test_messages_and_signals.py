from __future__ import annotations

from datetime import timedelta

import pytest

from engine.actions.messages import correlate_message, publish_message
from engine.actions.signals import broadcast_signal
from engine.errors import Conflict, NotFound
from engine.models import MessageSubscription, ProcessInstance, Variable
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db


def publish(engine, name, key="", ttl=0, message_id="", **variables):
    result = publish_message(engine.tenant, name, key, ttl, message_id, variables, "test", engine.now)
    drain()
    return result


def test_message_race_receive_task_and_signal(engine):
    engine.deploy("messages.bpmn")
    key = engine.start("messages", orderId="A-1")
    assert engine.active(key) == {"messages", "Race"}
    publish(engine, "paid", "B-2")  # another order: nothing happens
    assert engine.active(key) == {"messages", "Race"}
    publish(engine, "paid", "A-1", amount=10)
    assert engine.active(key) == {"messages", "Ship"}
    assert "PaidEvent" in engine.completed(key) and "Expired" not in engine.completed(key)
    assert Variable.objects.get(process_instance_id=key, name="amount").value == 10
    engine.advance(days=2)  # the timer of the race was withdrawn
    assert engine.active(key) == {"messages", "Ship"}
    publish(engine, "shipped", "A-1")
    assert engine.active(key) == {"messages", "Alarmed"}
    broadcast_signal(engine.tenant, "alarm", {"level": 3}, "test", engine.now)
    drain()
    assert engine.state(key) == "COMPLETED"


def test_timer_wins_the_race_when_no_message_comes(engine):
    engine.deploy("messages.bpmn")
    key = engine.start("messages", orderId="A-1")
    engine.advance(days=1)
    assert engine.state(key) == "COMPLETED"
    assert "ExpiredEnd" in engine.completed(key)
    assert MessageSubscription.objects.get(process_instance_key=key).state == "DELETED"


def test_buffered_message_correlates_within_its_ttl_and_not_after(engine):
    engine.deploy("messages.bpmn")
    publish(engine, "paid", "A-1", ttl=60_000)
    early = engine.start("messages", orderId="A-1")
    assert engine.active(early) == {"messages", "Ship"}
    # The same message does not correlate twice to one instance, but another instance still gets it.
    other = engine.start("messages", orderId="A-1")
    assert engine.active(other) == {"messages", "Ship"}
    engine.now += timedelta(minutes=2)
    late = engine.start("messages", orderId="A-1")
    assert engine.active(late) == {"messages", "Race"}


def test_duplicate_message_id_within_ttl_is_rejected(engine):
    publish(engine, "paid", "A-1", ttl=60_000, message_id="m-1")
    with pytest.raises(Conflict):
        publish(engine, "paid", "A-1", ttl=60_000, message_id="m-1")
    engine.now += timedelta(minutes=2)
    publish(engine, "paid", "A-1", ttl=60_000, message_id="m-1")  # expired: accepted again


def test_message_start_event_starts_one_instance_of_the_latest_version(engine):
    engine.deploy("messages.bpmn")
    publish(engine, "order-placed", "", orderId="Z-9")
    (instance,) = ProcessInstance.objects.all()
    assert engine.active(instance.key) == {"messages", "Race"}
    assert Variable.objects.get(process_instance_id=instance.key, name="orderId").value == "Z-9"


def test_correlate_requires_a_waiting_instance(engine):
    engine.deploy("messages.bpmn")
    with pytest.raises(NotFound):
        correlate_message(engine.tenant, "paid", "nobody", None, "test", engine.now)
    key = engine.start("messages", orderId="A-1")
    _, instance_key = correlate_message(engine.tenant, "paid", "A-1", None, "test", engine.now)
    drain()
    assert instance_key == key and engine.active(key) == {"messages", "Ship"}
