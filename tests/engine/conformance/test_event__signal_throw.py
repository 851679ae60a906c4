"""Signal throw events (intermediate and end) broadcast to the tenant, as POST /v2/signals/broadcast does:
waiting catch events and boundary events fire, signal start events start instances."""

from __future__ import annotations

from collections import Counter

import pytest

from engine.models import ProcessInstance
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db


def _instances(engine, process_id: str) -> list[ProcessInstance]:
    return list(ProcessInstance.objects.filter(tenant=engine.tenant, definition__bpmn_process_id=process_id)
                .order_by("key"))


def test_thrown_signals_reach_catch_events_boundary_events_and_start_events(engine):
    engine.deploy("signal-throw", "signal-catch", "signal-start")
    waiting = engine.start("signal-catch")
    assert engine.active(waiting) == Counter(["signal-catch", "Catch_OrderReady"])

    thrower = engine.start("signal-throw", orderId=7)
    drain()
    engine.assert_clean_end(thrower)
    assert engine.completion_order(thrower) == ["StartEvent_1", "Throw_OrderReady", "End_ShopClosed",
                                                "signal-throw"]
    assert [(r["signalName"], r["variables"]) for r in engine.records(thrower, "SIGNAL_THROWN")] == [
        ("order-ready", ["readyOrder"]), ("shop-closed", [])]
    # The catch event fired with the signal's variables (the throw event's input mappings)...
    assert engine.active(waiting) == Counter(["signal-catch", "Task_Pack"])
    assert engine.variables(waiting)["readyOrder"] == 7
    assert "orderId" not in engine.variables(waiting)
    # ...and the end event's signal started one instance of the signal start process.
    [started] = _instances(engine, "signal-start")
    engine.assert_clean_end(started.key)
    assert engine.completion_order(started.key) == ["Start_ShopClosed", "EndEvent_1", "signal-start"]

    # Thrown again: nothing waits for order-ready any more; shop-closed interrupts the task.
    second = engine.start("signal-throw", orderId=8)
    drain()
    engine.assert_clean_end(second)
    engine.assert_clean_end(waiting)
    assert engine.completed(waiting)["EndEvent_Closed"] == 1
    assert engine.terminated(waiting) == Counter(["Task_Pack"])
    assert engine.variables(waiting)["readyOrder"] == 7
    assert len(_instances(engine, "signal-start")) == 2


def test_a_signal_nobody_listens_to_is_no_incident(engine):
    engine.deploy("signal-throw")
    key = engine.start("signal-throw", orderId=1)
    drain()
    engine.assert_clean_end(key)
    assert engine.incidents(key) == []
