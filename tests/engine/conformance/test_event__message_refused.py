"""A message handed over to an element that stops waiting before the hand-over is applied (its timer boundary
fired first): the instance refuses the correlation and the message is not spent on it. As in Camunda 8, where
the process instance rejects such a correlation and the message stays available: while it lives, the next
subscription of the same instance receives it.

message-refused: Sub_Wait's Catch_Go waits for "go"; Sub_Wait's one-hour timer boundary leads to Catch_Go_Again,
which waits for the same message.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.actions.messages import publish_message
from engine.models import Command, Message
from engine.runtime.loop import drain
from engine.timers.firing import fire_due_timers

pytestmark = pytest.mark.django_db

HOUR = 3_600_000


def _race(engine, ttl_ms: int) -> tuple[int, int]:
    """The timer fires and, before the engine applies it, "go" is published: handed to Catch_Go."""
    engine.deploy("message-refused")
    key = engine.start("message-refused", orderId="A")
    assert fire_due_timers(engine.clock + timedelta(hours=1.5)) == 1
    message = publish_message(engine.tenant, "go", "A", ttl_ms, "", {"late": True}, "test", engine.now())
    assert list(Command.objects.filter(process_instance_key=key, state="PENDING").values_list("kind", flat=True)
                .order_by("id")) == ["TRIGGER_TIMER", "CORRELATE_MESSAGE"]
    drain()
    return key, message


def test_a_refused_hand_over_leaves_the_message_to_the_instances_next_subscription(engine):
    key, message = _race(engine, ttl_ms=3 * HOUR)
    assert list(Command.objects.filter(process_instance_key=key, kind="CORRELATE_MESSAGE").order_by("id")
                .values_list("state", flat=True)) == ["REJECTED", "PROCESSED"]
    assert engine.terminated(key)["Sub_Wait"] == 1
    # The same message, still alive, went to the subscription the timer's path opened.
    assert engine.completed(key)["Catch_Go_Again"] == 1 and engine.completed(key)["End_Late"] == 1
    assert "Catch_Go" not in engine.completed(key)
    assert engine.variables(key)["late"] is True
    assert Message.objects.get(key=message).correlated_instances == [str(key)]
    engine.assert_clean_end(key)


def test_a_refused_hand_over_of_a_message_without_time_to_live_reaches_nothing(engine):
    key, message = _race(engine, ttl_ms=0)
    assert Message.objects.get(key=message).correlated_instances == []
    assert engine.active(key)["Catch_Go_Again"] == 1  # nothing was received: it waits for the next "go"
    publish_message(engine.tenant, "go", "A", 0, "", {}, "test", engine.now())
    drain()
    engine.assert_clean_end(key)
