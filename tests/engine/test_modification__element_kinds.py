"""Modification on the element kinds the conformance tests (tests/engine/conformance/test_modification.py:
tasks, subprocesses, multi-instance) leave out: boundary events, event-based gateways and call activities.
Each asserts the resulting tokens, timers, subscriptions and called instances, through the real action and
engine loop (the migration tests' helpers and processes)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from engine.actions.modification import Activate, Modification, Move, modify_instance
from engine.models import Command, MessageSubscription, ProcessInstance, Timer
from engine.runtime.loop import drain
from tests.engine.test_migration__element_kinds import Run, active, flow, job, xml


@pytest.fixture
def run(creds) -> Run:  # type: ignore[no-untyped-def]
    return Run(creds.tenant)


def modify(r: Run, key: int, change: Modification) -> None:
    modify_instance([r.tenant.pk], key, change, "user:olga", timezone.now())
    drain()
    cmd = Command.objects.filter(kind="MODIFY_INSTANCE").latest("id")
    assert cmd.state == "PROCESSED", cmd.error


BOUNDARY = ('<bpmn:startEvent id="Start"/>' + flow("f1", "Start", "Task_A") + job("Task_A", "a")
            + flow("f2", "Task_A", "Task_B") + job("Task_B", "b") + flow("f3", "Task_B", "End")
            + '<bpmn:endEvent id="End"/><bpmn:boundaryEvent id="Slow" attachedToRef="Task_A">'
              '<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H'
              '</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
            + flow("b1", "Slow", "SlowEnd") + '<bpmn:endEvent id="SlowEnd"/>')


def test_moving_off_a_task_withdraws_its_boundary_timer_and_activating_it_opens_a_new_one(run: Run) -> None:
    definition = run.deploy("boundary.bpmn", xml(BOUNDARY))
    key = run.start(definition)
    first = Timer.objects.get(process_instance_key=key, state="ACTIVE")
    assert first.element_id == "Slow"
    modify(run, key, Modification(moves=[Move("Task_B", source_element_id="Task_A")]))
    assert active(key) == {"mk", "Task_B"}
    assert Timer.objects.get(key=first.key).state == "CANCELED"
    assert not Timer.objects.filter(process_instance_key=key, state="ACTIVE").exists()
    # Activating the task again attaches a fresh boundary timer to the new token.
    modify(run, key, Modification(activate=[Activate("Task_A")]))
    assert active(key) == {"mk", "Task_A", "Task_B"}
    again = Timer.objects.get(process_instance_key=key, state="ACTIVE")
    assert again.key != first.key and again.element_id == "Slow"


RACE = ('<bpmn:startEvent id="Start"/>' + flow("f1", "Start", "Race") + '<bpmn:eventBasedGateway id="Race"/>'
        + flow("f2", "Race", "Paid") + flow("f3", "Race", "Expired")
        + '<bpmn:intermediateCatchEvent id="Paid"><bpmn:messageEventDefinition messageRef="M"/>'
          '</bpmn:intermediateCatchEvent>'
        + '<bpmn:intermediateCatchEvent id="Expired"><bpmn:timerEventDefinition><bpmn:timeDuration '
          'xsi:type="bpmn:tFormalExpression">P1D</bpmn:timeDuration></bpmn:timerEventDefinition>'
          '</bpmn:intermediateCatchEvent>'
        + flow("f4", "Expired", "LateEnd") + '<bpmn:endEvent id="LateEnd"/>' + flow("f5", "Paid", "Ship")
        + job("Ship", "ship") + flow("f6", "Ship", "End") + '<bpmn:endEvent id="End"/>')
MESSAGES = ('<bpmn:message id="M" name="paid"><bpmn:extensionElements>'
            '<zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>')


def test_moving_out_of_an_event_based_gateway_withdraws_both_waits_and_activating_it_opens_them(run: Run) -> None:
    definition = run.deploy("race.bpmn", xml(RACE, extra=MESSAGES))
    key = run.start(definition, orderId="A-9")
    sub = MessageSubscription.objects.get(process_instance_key=key, state="ACTIVE")
    timer = Timer.objects.get(process_instance_key=key, state="ACTIVE")
    modify(run, key, Modification(moves=[Move("Ship", source_element_id="Race")]))
    assert active(key) == {"mk", "Ship"}
    assert MessageSubscription.objects.get(key=sub.key).state == "DELETED"
    assert Timer.objects.get(key=timer.key).state == "CANCELED"
    modify(run, key, Modification(activate=[Activate("Race")]))
    assert active(key) == {"mk", "Ship", "Race"}
    new_sub = MessageSubscription.objects.get(process_instance_key=key, state="ACTIVE")
    assert new_sub.key != sub.key and (new_sub.element_id, new_sub.correlation_key) == ("Paid", "A-9")
    assert Timer.objects.get(process_instance_key=key, state="ACTIVE").element_id == "Expired"


def test_terminating_a_call_activity_terminates_its_called_instance_and_activating_it_calls_again(
        run: Run) -> None:
    run.deploy("child.bpmn", xml('<bpmn:startEvent id="C0"/>' + flow("c1", "C0", "Task_C") + job("Task_C", "child")
                                 + flow("c2", "Task_C", "C9") + '<bpmn:endEvent id="C9"/>', process_id="mk-child"))
    parent = run.deploy("parent.bpmn", xml(
        '<bpmn:startEvent id="Start"/>' + flow("f1", "Start", "Call")
        + '<bpmn:callActivity id="Call"><bpmn:extensionElements><zeebe:calledElement processId="mk-child"/>'
          '</bpmn:extensionElements></bpmn:callActivity>' + flow("f2", "Call", "After") + job("After", "after")
        + flow("f3", "After", "End") + '<bpmn:endEvent id="End"/>'))
    key = run.start(parent)
    child = ProcessInstance.objects.get(parent_instance_key=key)
    modify(run, key, Modification(moves=[Move("After", source_element_id="Call")]))
    drain()
    assert active(key) == {"mk", "After"}
    assert ProcessInstance.objects.get(key=child.key).state == "TERMINATED"
    modify(run, key, Modification(activate=[Activate("Call")]))
    drain()
    assert active(key) == {"mk", "After", "Call"}
    called = ProcessInstance.objects.filter(parent_instance_key=key, state="ACTIVE")
    assert called.count() == 1 and called.get().key != child.key
    run.complete("child")
    assert active(key) == {"mk", "After"}
    run.complete("after")
    run.complete("after")
    assert ProcessInstance.objects.get(key=key).state == "COMPLETED"
