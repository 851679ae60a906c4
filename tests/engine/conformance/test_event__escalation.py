"""Escalation events (Camunda 8): thrown by intermediate and end events, caught by boundary events of
subprocesses and call activities and by event subprocess starts (by code, or catch-all); not critical,
so the thrower goes on, and an escalation nobody catches raises no incident."""

from __future__ import annotations

from collections import Counter

import pytest

from engine.bpmn import DefinitionError
from engine.definitions.deploy import Resource, deploy
from engine.models import ProcessInstance
from engine.runtime.loop import drain
from tests.engine.conformance.harness import BPMN

pytestmark = pytest.mark.django_db


def test_non_interrupting_boundary_catches_by_code_and_the_thrower_goes_on(engine):
    engine.deploy("escalation-boundary")
    key = engine.start("escalation-boundary", level="warn", stopCode="STOP")
    engine.assert_clean_end(key)
    assert engine.completed(key) == Counter([
        "StartEvent_1", "StartEvent_Sub", "Gateway_Level", "Throw_Late", "Task_GoOn", "EndEvent_Late",
        "SubProcess_Order", "EndEvent_Done", "Boundary_Late", "Task_Notify", "EndEvent_Notified",
        "escalation-boundary"])
    assert engine.terminated(key) == Counter()
    assert {k: engine.variables(key)[k] for k in ("wentOn", "notified")} == {"wentOn": True, "notified": True}
    assert [r["escalationCode"] for r in engine.records(key, "ESCALATION_THROWN")] == ["LATE"]


def test_interrupting_catch_all_takes_an_end_event_escalation_with_an_expression_code(engine):
    engine.deploy("escalation-boundary")
    key = engine.start("escalation-boundary", level="stop", stopCode="STOP")
    engine.assert_clean_end(key)
    assert engine.completion_order(key) == ["StartEvent_1", "StartEvent_Sub", "Gateway_Level", "Boundary_Any",
                                            "EndEvent_Stopped", "escalation-boundary"]
    assert engine.terminated(key) == Counter(["SubProcess_Order", "End_Stop"])
    assert [r["escalationCode"] for r in engine.records(key, "ESCALATION_THROWN")] == ["STOP"]


def test_event_subprocess_start_catches_and_an_uncaught_escalation_is_no_incident(engine):
    engine.deploy("escalation-event-subprocess")
    key = engine.start("escalation-event-subprocess")
    assert engine.active(key) == Counter(["escalation-event-subprocess", "Task_Work"])
    assert engine.completed(key)["Task_Record"] == 1
    assert engine.variables(key)["notified"] is True
    assert [r["escalationCode"] for r in engine.records(key, "ESCALATION_NOT_CAUGHT")] == ["NOBODY"]
    assert engine.incidents(key) == []
    engine.complete_jobs("work")
    engine.assert_clean_end(key)


def test_escalation_from_a_called_process_is_caught_at_the_call_activity(engine):
    engine.deploy("escalation-call", "escalation-child")
    key = engine.start("escalation-call")
    drain()
    # Caught by the non-interrupting boundary of the call activity: the parent noted it, the child goes on.
    assert engine.completed(key)["Task_Note"] == 1
    assert engine.variables(key)["childLate"] is True
    assert engine.active(key) == Counter(["escalation-call", "Call_Child"])
    [child] = ProcessInstance.objects.filter(parent_instance_key=key)
    assert engine.active(child.key) == Counter(["escalation-child", "Task_Finish"])
    engine.complete_jobs("finish")
    drain()
    engine.assert_clean_end(child.key)
    engine.assert_clean_end(key)
    assert engine.completed(key)["EndEvent_Done"] == 1


def test_an_escalation_boundary_event_on_a_task_is_refused(engine):
    source = (BPMN / "escalation-boundary.bpmn").read_text().replace(
        'id="Boundary_Any" name="Any escalation" attachedToRef="SubProcess_Order"',
        'id="Boundary_Any" name="Any escalation" attachedToRef="Task_Notify"')
    with pytest.raises(DefinitionError) as refused:
        deploy(engine.tenant, [Resource("escalation-on-task.bpmn", source.encode())], engine.now())
    assert [(p.element_id, p.message) for p in refused.value.problems] == [
        ("Boundary_Any", "an escalation boundary event may only be attached to a subprocess or a call activity")]


def test_an_interrupting_escalation_event_subprocess_ends_the_thrower_and_its_scope(engine):
    source = (BPMN / "escalation-event-subprocess.bpmn").read_text().replace(
        'id="Start_Notify" name="Notify" isInterrupting="false"', 'id="Start_Notify" name="Notify"')
    deploy(engine.tenant, [Resource("escalation-event-subprocess.bpmn", source.encode())], engine.now())
    key = engine.start("escalation-event-subprocess")
    engine.assert_clean_end(key)
    assert engine.completion_order(key) == ["StartEvent_1", "Start_Notify", "Task_Record", "End_Notify",
                                            "EventSub_Notify", "escalation-event-subprocess"]
    assert engine.terminated(key) == Counter(["Throw_Notify"])
    assert engine.records(key, "ESCALATION_NOT_CAUGHT") == []
