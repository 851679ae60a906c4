"""Migration on the element kinds it touches, through the action and the real engine loop: an embedded
subprocess and its inner task, an intermediate timer (kept, same due date), an event-based gateway with
its message subscription and timer (kept under the mapped ids), a boundary timer the target drops
(withdrawn), a call activity (the child runs on and completes into v2), and a multi-instance body
(refused). Each asserts the resulting tokens, variables, timers and subscriptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.actions.instances import start_instance
from engine.actions.jobs import activate_jobs, complete_job
from engine.actions.messages import publish_message
from engine.actions.migration import migrate_instance
from engine.actions.variables import set_variables
from engine.definitions.deploy import Resource, deploy
from engine.errors import Conflict
from engine.models import (
    Command,
    ElementInstance,
    MessageSubscription,
    ProcessDefinition,
    ProcessInstance,
    Timer,
    Variable,
)
from engine.runtime.loop import drain
from engine.timers.firing import fire_due_timers

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HEAD = ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
        'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D" targetNamespace="http://x">')


def xml(body: str, process_id: str = "mk", extra: str = "") -> bytes:
    return f'{HEAD}{extra}<bpmn:process id="{process_id}" isExecutable="true">{body}</bpmn:process>' \
           f'</bpmn:definitions>'.encode()


def job(element_id: str, job_type: str, inner: str = "") -> str:
    return (f'<bpmn:serviceTask id="{element_id}"><bpmn:extensionElements><zeebe:taskDefinition type="{job_type}"/>'
            f'</bpmn:extensionElements>{inner}</bpmn:serviceTask>')


def flow(i: str, a: str, b: str) -> str:
    return f'<bpmn:sequenceFlow id="{i}" sourceRef="{a}" targetRef="{b}"/>'


class Run:
    def __init__(self, tenant):  # type: ignore[no-untyped-def]
        self.tenant, self.now = tenant, T0

    def tick(self, **delta: float) -> datetime:
        self.now += timedelta(**delta) if delta else timedelta(milliseconds=5)
        return self.now

    def deploy(self, name: str, content: bytes) -> ProcessDefinition:
        return deploy(self.tenant, [Resource(name, content)], self.tick())[1][0]

    def start(self, definition: ProcessDefinition, **variables: object) -> int:
        key = start_instance(self.tenant, definition, variables, "test", self.tick()).key
        drain()
        return key

    def migrate(self, key: int, target: ProcessDefinition, *mapping: tuple[str, str]) -> None:
        migrate_instance([self.tenant.pk], key, target.key, list(mapping), "user:olga", self.tick())
        drain()
        assert Command.objects.filter(kind="MIGRATE_INSTANCE").latest("id").state == "PROCESSED"
        assert ProcessInstance.objects.get(key=key).definition_id == target.key

    def complete(self, job_type: str, **variables: object) -> None:
        (j,) = activate_jobs([self.tenant.pk], job_type, "w", 60_000, 1, self.tick())
        complete_job([self.tenant.pk], j.key, variables, "w", self.tick())
        drain()

    def advance(self, **delta: float) -> None:
        self.tick(**delta)
        while fire_due_timers(self.now):
            pass
        drain()


def active(key: int) -> set[str]:
    return set(ElementInstance.objects.filter(process_instance_id=key, state="ACTIVE")
               .values_list("element_id", flat=True))


@pytest.fixture
def run(creds) -> Run:  # type: ignore[no-untyped-def]
    return Run(creds.tenant)


def test_subprocess_and_inner_task_keep_keys_and_variables(run: Run) -> None:
    sub = ('<bpmn:subProcess id="{s}"><bpmn:startEvent id="S0"/>' + flow("s1", "S0", "{t}") + job("{t}", "inner")
           + flow("s2", "{t}", "S9") + '<bpmn:endEvent id="S9"/></bpmn:subProcess>')
    v1 = run.deploy("v1.bpmn", xml('<bpmn:startEvent id="Start"/>' + flow("f1", "Start", "Sub")
                                   + sub.format(s="Sub", t="Task_A") + flow("f2", "Sub", "End")
                                   + '<bpmn:endEvent id="End"/>'))
    v2 = run.deploy("v2.bpmn", xml('<bpmn:startEvent id="Start"/>' + flow("f1", "Start", "Sub2")
                                   + sub.format(s="Sub2", t="Task_B") + flow("f2", "Sub2", "After")
                                   + job("After", "after") + flow("f3", "After", "End") + '<bpmn:endEvent id="End"/>'))
    key = run.start(v1, order="A-1")
    scope = ElementInstance.objects.get(process_instance_id=key, element_id="Sub", state="ACTIVE")
    set_variables([run.tenant.pk], scope.key, {"box": "L"}, True, "user:olga", run.tick())
    drain()
    # Mapping the task without its subprocess leaves an active element unmapped.
    with pytest.raises(Conflict, match="no mapping instruction for active element 'Sub'"):
        run.migrate(key, v2, ("Task_A", "Task_B"))
    run.migrate(key, v2, ("Sub", "Sub2"), ("Task_A", "Task_B"))
    assert active(key) == {"mk", "Sub2", "Task_B"}
    assert ElementInstance.objects.get(key=scope.key).element_id == "Sub2"  # the same element instance
    assert Variable.objects.get(scope_key=scope.key, name="box").value == "L"
    assert Variable.objects.get(scope_key=key, name="order").value == "A-1"
    run.complete("inner")
    assert active(key) == {"mk", "After"}  # v2's flows from here on
    run.complete("after")
    assert ProcessInstance.objects.get(key=key).state == "COMPLETED"


def test_intermediate_timer_is_kept_with_its_due_date(run: Run) -> None:
    def timer(element_id: str, duration: str) -> str:
        return (f'<bpmn:intermediateCatchEvent id="{element_id}"><bpmn:timerEventDefinition>'
                f'<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{duration}</bpmn:timeDuration>'
                '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>')
    v1 = run.deploy("v1.bpmn", xml('<bpmn:startEvent id="Start"/>' + flow("f1", "Start", "Wait") + timer("Wait", "PT1H")
                                   + flow("f2", "Wait", "End") + '<bpmn:endEvent id="End"/>'))
    v2 = run.deploy("v2.bpmn", xml('<bpmn:startEvent id="Start"/>' + flow("f1", "Start", "Wait2")
                                   + timer("Wait2", "PT5H") + flow("f2", "Wait2", "Next") + job("Next", "next")
                                   + flow("f3", "Next", "End") + '<bpmn:endEvent id="End"/>'))
    key = run.start(v1)
    before = Timer.objects.get(process_instance_key=key, state="ACTIVE")
    run.migrate(key, v2, ("Wait", "Wait2"))
    after = Timer.objects.get(process_instance_key=key, state="ACTIVE")
    assert (after.key, after.due_at, after.element_id, after.process_definition_key) == (
        before.key, before.due_at, "Wait2", v2.key)
    run.advance(hours=1, minutes=1)  # v1's due date, not v2's five hours
    assert active(key) == {"mk", "Next"}


def test_event_based_gateway_keeps_subscription_and_timer_under_mapped_ids(run: Run) -> None:
    messages = ('<bpmn:message id="M" name="paid"><bpmn:extensionElements>'
                '<zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>')

    def race(paid: str, late: str, then: str) -> str:
        return ('<bpmn:startEvent id="Start"/>' + flow("f1", "Start", "Race") + '<bpmn:eventBasedGateway id="Race"/>'
                + flow("f2", "Race", paid) + flow("f3", "Race", late)
                + f'<bpmn:intermediateCatchEvent id="{paid}"><bpmn:messageEventDefinition messageRef="M"/>'
                  '</bpmn:intermediateCatchEvent>'
                + f'<bpmn:intermediateCatchEvent id="{late}"><bpmn:timerEventDefinition><bpmn:timeDuration '
                  'xsi:type="bpmn:tFormalExpression">P1D</bpmn:timeDuration></bpmn:timerEventDefinition>'
                  '</bpmn:intermediateCatchEvent>'
                + flow("f4", late, "LateEnd") + '<bpmn:endEvent id="LateEnd"/>' + flow("f5", paid, then))
    v1 = run.deploy("v1.bpmn", xml(race("Paid", "Expired", "End") + '<bpmn:endEvent id="End"/>', extra=messages))
    v2 = run.deploy("v2.bpmn", xml(race("PaidV2", "Late", "Ship") + job("Ship", "ship") + flow("f6", "Ship", "End")
                                   + '<bpmn:endEvent id="End"/>', extra=messages))
    key = run.start(v1, orderId="A-9")
    sub = MessageSubscription.objects.get(process_instance_key=key, state="ACTIVE")
    timer = Timer.objects.get(process_instance_key=key, state="ACTIVE")
    run.migrate(key, v2, ("Race", "Race"), ("Paid", "PaidV2"), ("Expired", "Late"))
    sub.refresh_from_db()
    timer.refresh_from_db()
    assert (sub.state, sub.element_id, sub.process_definition_key, sub.correlation_key) == (
        "ACTIVE", "PaidV2", v2.key, "A-9")
    assert (timer.state, timer.element_id) == ("ACTIVE", "Late")
    assert MessageSubscription.objects.filter(process_instance_key=key).count() == 1  # kept, not recreated
    publish_message(run.tenant, "paid", "A-9", 0, "", {"paid": True}, "test", run.tick())
    drain()
    assert active(key) == {"mk", "Ship"}
    timer.refresh_from_db()
    assert timer.state == "CANCELED"


def test_unmapped_catch_events_are_recreated_from_the_target(run: Run) -> None:
    """The race without mapping its catch events: v1's waits are withdrawn and v2's opened (new keys)."""
    messages = '<bpmn:message id="M" name="paid"/>'
    body = ('<bpmn:startEvent id="Start"/>' + flow("f1", "Start", "Race") + '<bpmn:eventBasedGateway id="Race"/>'
            + flow("f2", "Race", "{p}") + '<bpmn:intermediateCatchEvent id="{p}"><bpmn:messageEventDefinition '
            'messageRef="M"/></bpmn:intermediateCatchEvent>' + flow("f3", "{p}", "End") + '<bpmn:endEvent id="End"/>'
            + flow("f4", "Race", "{t}") + '<bpmn:intermediateCatchEvent id="{t}"><bpmn:timerEventDefinition>'
            '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P1D</bpmn:timeDuration></bpmn:timerEventDefinition>'
            '</bpmn:intermediateCatchEvent>' + flow("f5", "{t}", "End"))
    v1 = run.deploy("v1.bpmn", xml(body.format(p="Paid", t="Late"), extra=messages))
    v2 = run.deploy("v2.bpmn", xml(body.format(p="PaidLater", t="Later"), extra=messages))
    key = run.start(v1)
    old = MessageSubscription.objects.get(process_instance_key=key, state="ACTIVE")
    old_timer = Timer.objects.get(process_instance_key=key, state="ACTIVE")
    run.migrate(key, v2, ("Race", "Race"))
    new = MessageSubscription.objects.get(process_instance_key=key, state="ACTIVE")
    assert new.key != old.key and new.element_id == "PaidLater"
    assert MessageSubscription.objects.get(key=old.key).state == "DELETED"
    new_timer = Timer.objects.get(process_instance_key=key, state="ACTIVE")
    assert new_timer.key != old_timer.key and new_timer.element_id == "Later"
    assert new_timer.due_at > old_timer.due_at  # counted from the migration
    assert Timer.objects.get(key=old_timer.key).state == "CANCELED"


def test_a_boundary_timer_the_target_drops_is_withdrawn(run: Run) -> None:
    boundary = ('<bpmn:boundaryEvent id="Slow" attachedToRef="Task_A"><bpmn:timerEventDefinition><bpmn:timeDuration '
                'xsi:type="bpmn:tFormalExpression">PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>'
                '</bpmn:boundaryEvent>' + flow("b1", "Slow", "SlowEnd") + '<bpmn:endEvent id="SlowEnd"/>')
    base = '<bpmn:startEvent id="Start"/>' + flow("f1", "Start", "Task_A") + job("Task_A", "a") + flow(
        "f2", "Task_A", "End") + '<bpmn:endEvent id="End"/>'
    v1 = run.deploy("v1.bpmn", xml(base + boundary))
    v2 = run.deploy("v2.bpmn", xml(base))
    key = run.start(v1)
    timer = Timer.objects.get(process_instance_key=key, state="ACTIVE")
    run.migrate(key, v2, ("Task_A", "Task_A"))
    assert Timer.objects.get(key=timer.key).state == "CANCELED"
    assert not Timer.objects.filter(process_instance_key=key, state="ACTIVE").exists()
    run.advance(hours=2)  # nothing fires
    assert active(key) == {"mk", "Task_A"}


def test_call_activity_parent_migrates_and_the_child_completes_into_v2(run: Run) -> None:
    run.deploy("child.bpmn", xml('<bpmn:startEvent id="C0"/>' + flow("c1", "C0", "Task_C") + job("Task_C", "child")
                                 + flow("c2", "Task_C", "C9") + '<bpmn:endEvent id="C9"/>', process_id="mk-child"))

    def parent(call: str, after: str) -> str:
        return ('<bpmn:startEvent id="Start"/>' + flow("f1", "Start", call)
                + f'<bpmn:callActivity id="{call}"><bpmn:extensionElements><zeebe:calledElement processId="mk-child"/>'
                  '</bpmn:extensionElements></bpmn:callActivity>' + flow("f2", call, after))
    v1 = run.deploy("v1.bpmn", xml(parent("Call", "End") + '<bpmn:endEvent id="End"/>'))
    v2 = run.deploy("v2.bpmn", xml(parent("Call2", "After") + job("After", "after") + flow("f3", "After", "End")
                                   + '<bpmn:endEvent id="End"/>'))
    key = run.start(v1)
    child = ProcessInstance.objects.get(parent_instance_key=key)
    run.migrate(key, v2, ("Call", "Call2"))
    assert active(key) == {"mk", "Call2"}
    assert ProcessInstance.objects.get(key=child.key).definition_id == child.definition_id  # the child stays
    run.complete("child")
    assert active(key) == {"mk", "After"}


def test_multi_instance_bodies_are_refused(run: Run) -> None:
    mi = ('<bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements><zeebe:loopCharacteristics '
          'inputCollection="=items" inputElement="item"/></bpmn:extensionElements>'
          '</bpmn:multiInstanceLoopCharacteristics>')
    body = '<bpmn:startEvent id="Start"/>' + flow("f1", "Start", "Each") + job("Each", "each", mi) + flow(
        "f2", "Each", "End") + '<bpmn:endEvent id="End"/>'
    v1 = run.deploy("v1.bpmn", xml(body))
    v2 = run.deploy("v2.bpmn", xml(body.replace('type="each"', 'type="each2"')))
    key = run.start(v1, items=[1, 2])
    with pytest.raises(Conflict, match="multi-instance"):
        run.migrate(key, v2, ("Each", "Each"))
    assert ProcessInstance.objects.get(key=key).definition_id == v1.key
