"""While a scope waits for `canceling` task listeners, nothing of it listens any more (Camunda 8): the timers and
subscriptions of a terminating scope and of everything inside it close when the termination starts, in the
transaction of the command that terminated it, and a scope that waits for its terminating tokens before it goes
on (an interrupting event subprocess, a terminate end event) closes its event subprocesses' subscriptions then.
A message published meanwhile is not consumed there: it stays buffered (its time to live) and goes to the next
instance that subscribes; a timer of the scope that falls due does not fire. Only a boundary event of a scope
that waits for its event subprocess still interrupts it (Camunda accepts boundary events of an interrupted scope).

canceling-waits: Sub_Work holds Task_Work (canceling listener tl-cancel-work) and the event subprocesses
Esp_Halt (interrupting message halt), Esp_Ping (non-interrupting message ping), Esp_Tick (non-interrupting timer
R/PT1H); Sub_Work has an interrupting message boundary Boundary_Recall and a PT2H timer boundary Boundary_Late.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.actions.instances import cancel_instance
from engine.actions.messages import publish_message
from engine.actions.modification import Activate, Modification, modify_instance
from engine.models import Command, ElementInstance, Message, MessageSubscription, Timer, UserTask
from engine.runtime.loop import drain
from engine.timers.firing import fire_due_timers

pytestmark = pytest.mark.django_db

HOUR = 3_600_000


def _publish(engine, name: str, order: str = "W", ttl_ms: int = 0) -> int:
    key = publish_message(engine.tenant, name, order, ttl_ms, "", {}, "test", engine.now())
    drain()
    return key


def _reached(message_key: int) -> list[int]:
    return [int(k) for k in Message.objects.get(key=message_key).correlated_instances]


def _subscriptions(key: int) -> dict[str, str]:
    return dict(MessageSubscription.objects.filter(process_instance_key=key).values_list("element_id", "state"))


def _timers(key: int) -> dict[str, str]:
    return dict(Timer.objects.filter(process_instance_key=key).values_list("element_id", "state"))


def _fire_timers(engine, hours: float) -> None:
    """The sweeper runs `hours` later than now: whatever is due fires."""
    at = engine.clock + timedelta(hours=hours)
    while fire_due_timers(at):
        pass
    drain()


def _task(key: int) -> UserTask:
    return UserTask.objects.get(process_instance_key=key)


def _work(engine, order: str = "W") -> int:
    engine.deploy("canceling-waits")
    key = engine.start("canceling-waits", orderId=order)
    assert _subscriptions(key) == {"Start_Halt": "ACTIVE", "Start_Ping": "ACTIVE", "Boundary_Recall": "ACTIVE"}
    assert _timers(key) == {"Start_Tick": "ACTIVE", "Boundary_Late": "ACTIVE"}
    return key


def test_an_interrupting_event_subprocess_closes_the_other_event_subprocesses_of_its_waiting_scope(engine):
    key = _work(engine)
    _publish(engine, "halt")
    assert _task(key).state == "CANCELING"
    # Closed with the command that interrupted the scope; only the scope's boundary events still listen.
    assert _subscriptions(key) == {"Start_Halt": "DELETED", "Start_Ping": "DELETED", "Boundary_Recall": "ACTIVE"}
    assert _timers(key) == {"Start_Tick": "CANCELED", "Boundary_Late": "ACTIVE"}

    ping = _publish(engine, "ping", ttl_ms=HOUR)
    assert _reached(ping) == []  # not consumed by the waiting scope: still buffered
    _fire_timers(engine, hours=1.5)  # the hourly tick would be due now
    assert not Command.objects.filter(process_instance_key=key, kind="TRIGGER_TIMER").exists()
    assert "End_Pinged" not in engine.completed(key) and "End_Ticked" not in engine.completed(key)

    second = engine.start("canceling-waits", orderId="W")  # the next subscriber gets the buffered message
    assert _reached(ping) == [second]
    assert engine.completed(second)["End_Pinged"] == 1

    engine.answer("tl-cancel-work")
    assert engine.completed(key)["End_Halted"] == 1
    assert "End_Pinged" not in engine.completed(key) and "End_Ticked" not in engine.completed(key)
    engine.assert_clean_end(key)


def test_a_boundary_event_still_interrupts_a_scope_that_waits_for_its_event_subprocess(engine):
    key = _work(engine)
    _publish(engine, "halt")
    recall = _publish(engine, "recall", ttl_ms=HOUR)
    assert _reached(recall) == [key]
    assert _task(key).state == "CANCELING" and "End_Recalled" not in engine.completed(key)
    assert _timers(key) == {"Start_Tick": "CANCELED", "Boundary_Late": "CANCELED"}  # the scope is terminating now
    engine.answer("tl-cancel-work")
    assert engine.terminated(key)["Sub_Work"] == 1
    assert engine.completed(key)["End_Recalled"] == 1
    assert "Esp_Halt" not in engine.completed(key)  # the scope went before its event subprocess could start
    engine.assert_clean_end(key)


def test_cancelling_closes_every_wait_of_the_instance_before_its_listeners_run(engine):
    key = _work(engine)
    cancel_instance(engine.tenant, key, "test", engine.now())
    drain()
    assert _task(key).state == "CANCELING" and engine.state(key) == "ACTIVE"
    assert set(_subscriptions(key).values()) == {"DELETED"}
    assert set(_timers(key).values()) == {"CANCELED"}

    messages = [_publish(engine, name, ttl_ms=HOUR) for name in ("halt", "ping", "recall")]
    _fire_timers(engine, hours=3)  # the tick and the two-hour deadline would both be due
    assert [_reached(m) for m in messages] == [[], [], []]
    assert not Command.objects.filter(process_instance_key=key, kind__in=["TRIGGER_TIMER",
                                                                           "CORRELATE_MESSAGE"]).exists()
    engine.answer("tl-cancel-work")
    engine.assert_clean_end(key, "TERMINATED")
    assert set(engine.completed(key)) == {"Start", "Sub_Start"}  # no event of it was taken

    second = engine.start("canceling-waits", orderId="W")  # buffered, they reach the next instance
    assert [_reached(m) for m in messages] == [[second], [second], [second]]


def test_a_terminate_end_event_scope_takes_no_event_subprocess_while_it_waits(engine):
    """user-task-canceling: the terminate end event's scope (the process) completes after the canceling
    listeners; its interrupting event subprocess `abort` no longer listens meanwhile (it did before: the
    message was taken and the event subprocess started after the listeners, instead of the process completing)."""
    engine.deploy("user-task-canceling")
    key = engine.start("user-task-canceling", orderId="T")
    _publish(engine, "stop", order="T")
    assert _task(key).state == "CANCELING"
    assert _subscriptions(key)["Start_Abort"] == "DELETED"
    abort = _publish(engine, "abort", order="T", ttl_ms=HOUR)
    assert _reached(abort) == []
    engine.answer("tl-cancel-1")
    engine.answer("tl-cancel-2")
    engine.assert_clean_end(key)
    assert engine.completed(key)["End_Stop"] == 1 and "Esp_Abort" not in engine.completed(key)

    second = engine.start("user-task-canceling", orderId="T")
    assert _reached(abort) == [second]
    assert UserTask.objects.get(process_instance_key=second).state == "CANCELING"  # its abort interrupts it



def _modify(engine, key: int, modification: Modification) -> None:
    modify_instance([engine.tenant.pk], key, modification, "test", engine.now())
    drain()


def test_a_scope_a_modification_empties_takes_no_event_subprocess_while_it_waits(engine):
    key = _work(engine)
    _modify(engine, key, Modification(terminate_keys=[_task(key).element_instance_key]))
    assert _task(key).state == "CANCELING"
    assert _subscriptions(key) == {"Start_Halt": "DELETED", "Start_Ping": "DELETED", "Boundary_Recall": "ACTIVE"}
    ping = _publish(engine, "ping", ttl_ms=HOUR)
    assert _reached(ping) == []
    engine.answer("tl-cancel-work")
    engine.assert_clean_end(key, "TERMINATED")  # the emptied scope, then the instance, ended after the listener


def test_a_scope_a_modification_leaves_running_keeps_its_event_subprocesses(engine):
    key = _work(engine)
    old = _task(key)
    sub = ElementInstance.objects.get(process_instance_id=key, element_id="Sub_Work")
    _modify(engine, key, Modification(terminate_keys=[old.element_instance_key],
                                      activate=[Activate("Task_Work", ancestor_key=sub.key)]))
    old.refresh_from_db()
    assert old.state == "CANCELING" and engine.active(key)["Task_Work"] == 2
    assert _subscriptions(key) == {"Start_Halt": "ACTIVE", "Start_Ping": "ACTIVE", "Boundary_Recall": "ACTIVE"}
    ping = _publish(engine, "ping", ttl_ms=HOUR)
    assert _reached(ping) == [key] and engine.completed(key)["End_Pinged"] == 1
    engine.answer("tl-cancel-work")
    old.refresh_from_db()
    assert old.state == "CANCELED" and engine.active(key)["Task_Work"] == 1 and engine.state(key) == "ACTIVE"
