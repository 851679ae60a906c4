"""Event subprocesses: an error start event interrupts its scope; message and timer starts are parsed
(their triggers belong to the wait-states issue)."""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = pytest.mark.django_db


def test_error_event_subprocess_interrupts_the_process(engine):
    engine.deploy("event-subprocess-error")
    key = engine.start("event-subprocess-error")
    engine.assert_clean_end(key)
    assert engine.completed(key) == Counter(["StartEvent_1", "Gateway_Fork", "StartEvent_Sub", "StartEvent_Error",
                                             "Task_Handle", "EndEvent_Error", "EventSub_Error",
                                             "event-subprocess-error"])
    assert engine.terminated(key) == Counter(["Task_Wait", "SubProcess_Check", "EndEvent_Invalid"])
    assert engine.completion_order(key)[-4:] == ["Task_Handle", "EndEvent_Error", "EventSub_Error",
                                                 "event-subprocess-error"]
    assert engine.variables(key) == {"outcome": "handled"}
    from engine.models import Job

    assert list(Job.objects.filter(process_instance_key=key).values_list("state", flat=True)) == ["CANCELED"]


def test_event_subprocess_inside_a_subprocess_catches_and_the_process_goes_on(engine):
    engine.deploy("event-subprocess-in-subprocess")
    key = engine.start("event-subprocess-in-subprocess")
    engine.assert_clean_end(key)
    assert engine.completion_order(key) == [
        "StartEvent_1", "StartEvent_Sub", "StartEvent_Any", "EndEvent_Any", "EventSub_Any", "SubProcess_Work",
        "Task_After", "EndEvent_1", "event-subprocess-in-subprocess"]
    assert engine.terminated(key) == Counter(["EndEvent_Invalid"])


def test_message_and_timer_events_deploy_and_wait(engine):
    [definition] = engine.deploy("wait-states-parsed")
    elements = {e["id"]: e for e in definition.graph["elements"]}
    assert elements["StartEvent_Cancel"]["props"] == {
        "event": {"type": "message", "messageName": "cancel-order", "correlationKey": "=orderId"},
        "interrupting": False}
    assert elements["StartEvent_Expire"]["props"]["event"] == {"type": "timer", "timeDuration": "=expiry"}
    assert elements["Catch_Timeout"]["props"]["event"] == {"type": "timer", "timeDuration": "P1D"}
    assert elements["StartEvent_Message"]["props"]["event"]["messageName"] == "order-placed"
    key = engine.start("wait-states-parsed", orderId="o-1", expiry="P30D")
    # The event-based gateway waits for its race (the wait-states issue triggers the events).
    assert engine.active(key) == Counter(["wait-states-parsed", "Gateway_Race"])
    assert engine.state(key) == "ACTIVE"
