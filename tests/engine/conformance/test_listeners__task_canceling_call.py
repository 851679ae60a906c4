"""A call activity being terminated waits for its child instance (Camunda 8: the call activity is terminated once
its child instance is): when the child has a user task with `canceling` task listeners, the parent goes on — the
boundary event taken, the event subprocess started, the terminate end event's scope completed, the cancelled
instance TERMINATED — only after those listeners are done and the child ended, through every level of call
activities.

canceling-call-parent: Call_Review calls `target` (canceling-call-child: Task_Child with the canceling listener
tl-cancel-child; or canceling-call-middle, which calls the child in turn), with an interrupting message boundary
(recall), a parallel Catch_Stop (stop) before a terminate end event, and an interrupting message event subprocess
(abort).
"""

from __future__ import annotations

from collections import Counter

import pytest

from engine.actions.instances import cancel_instance
from engine.actions.messages import publish_message
from engine.actions.user_tasks import complete_user_task
from engine.errors import Conflict
from engine.models import Command, ElementInstance, Event, ProcessInstance, UserTask
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db


def _start(engine, target: str = "canceling-call-child", order: str = "C") -> int:
    engine.deploy("canceling-call-child", "canceling-call-middle", "canceling-call-parent")
    key = engine.start("canceling-call-parent", orderId=order, target=target)
    return key


def _children(key: int) -> list[int]:
    return list(ProcessInstance.objects.filter(parent_instance_key=key).order_by("key").values_list("key", flat=True))


def _publish(engine, name: str, order: str = "C") -> None:
    publish_message(engine.tenant, name, order, 0, "", {}, "test", engine.now())
    drain()


def _call(key: int) -> ElementInstance:
    return ElementInstance.objects.get(process_instance_id=key, element_id="Call_Review")


def _child_waits_for_its_listener(engine, parent: int, child: int) -> None:
    """The child's task is CANCELING with its listener job open; the parent's call activity still waits for it."""
    assert UserTask.objects.get(process_instance_key=child).state == "CANCELING"
    assert engine.state(child) == "ACTIVE" and engine.active(child)["Task_Child"] == 1
    assert [j.listener_event_type for j in engine.jobs("tl-cancel-child")] == ["CANCELING"]
    assert engine.state(parent) == "ACTIVE"
    call = _call(parent)
    assert call.state == "ACTIVE" and "terminating" in call.data and call.data["awaitChild"] is True


def _terminated_before(child: int, parent: int, intent: str, element_id: str | None = None) -> None:
    """The child's end is recorded (event rows in commit order) before the parent's next step."""
    events = [(e.process_instance_key, r["intent"], r.get("elementId"))
              for e in Event.objects.filter(process_instance_key__in=[child, parent]).order_by("id") for r in e.records]
    assert events.count((child, "PROCESS_INSTANCE_TERMINATED", None)) == 1
    assert events.index((child, "PROCESS_INSTANCE_TERMINATED", None)) < events.index((parent, intent, element_id))


def test_cancelling_the_parent_ends_it_after_the_child_and_its_canceling_listener(engine):
    parent = _start(engine)
    [child] = _children(parent)
    cancel_instance(engine.tenant, parent, "test", engine.now())
    drain()
    _child_waits_for_its_listener(engine, parent, child)
    assert engine.active(parent) == Counter(["canceling-call-parent", "Call_Review"])  # Catch_Stop went at once
    assert engine.records(parent, "ELEMENT_TERMINATING")  # what the timeline shows meanwhile

    engine.answer("tl-cancel-child")
    engine.assert_clean_end(child, "TERMINATED")
    engine.assert_clean_end(parent, "TERMINATED")
    assert engine.terminated(parent)["Call_Review"] == 1
    _terminated_before(child, parent, "PROCESS_INSTANCE_TERMINATED")
    assert [c.state for c in Command.objects.filter(kind="CHILD_TERMINATED")] == ["PROCESSED"]


def test_an_interrupting_boundary_event_on_the_call_activity_is_taken_after_the_child_ended(engine):
    parent = _start(engine)
    [child] = _children(parent)
    _publish(engine, "recall")
    _child_waits_for_its_listener(engine, parent, child)
    assert "End_Recalled" not in engine.completed(parent)
    engine.answer("tl-cancel-child")
    engine.assert_clean_end(child, "TERMINATED")
    assert engine.completed(parent)["End_Recalled"] == 1
    assert engine.terminated(parent)["Call_Review"] == 1
    _terminated_before(child, parent, "ELEMENT_ACTIVATED", "Boundary_Recall")
    _publish(engine, "stop")
    engine.assert_clean_end(parent)


def test_an_interrupting_event_subprocess_starts_after_the_child_ended(engine):
    parent = _start(engine)
    [child] = _children(parent)
    _publish(engine, "abort")
    _child_waits_for_its_listener(engine, parent, child)
    assert "Esp_Abort" not in engine.active(parent) + engine.completed(parent)
    engine.answer("tl-cancel-child")
    engine.assert_clean_end(child, "TERMINATED")
    assert engine.completed(parent)["End_Aborted"] == 1
    _terminated_before(child, parent, "ELEMENT_ACTIVATED", "Esp_Abort")
    engine.assert_clean_end(parent)


def test_a_terminate_end_event_completes_the_parent_after_the_child_ended(engine):
    parent = _start(engine)
    [child] = _children(parent)
    _publish(engine, "stop")
    _child_waits_for_its_listener(engine, parent, child)
    assert engine.completed(parent)["End_Stop"] == 1 and engine.state(parent) == "ACTIVE"
    engine.answer("tl-cancel-child")
    engine.assert_clean_end(child, "TERMINATED")
    engine.assert_clean_end(parent)
    _terminated_before(child, parent, "PROCESS_INSTANCE_COMPLETED")


def test_a_grandchild_with_a_canceling_listener_holds_every_level(engine):
    parent = _start(engine, target="canceling-call-middle")
    [middle] = _children(parent)
    [child] = _children(middle)
    cancel_instance(engine.tenant, parent, "test", engine.now())
    drain()
    assert UserTask.objects.get(process_instance_key=child).state == "CANCELING"
    assert [engine.state(k) for k in (parent, middle, child)] == ["ACTIVE", "ACTIVE", "ACTIVE"]
    assert ElementInstance.objects.get(process_instance_id=middle, element_id="Call_Child").data["awaitChild"]
    engine.answer("tl-cancel-child")
    for k in (child, middle, parent):
        engine.assert_clean_end(k, "TERMINATED")
    _terminated_before(child, middle, "PROCESS_INSTANCE_TERMINATED")
    _terminated_before(middle, parent, "PROCESS_INSTANCE_TERMINATED")


def test_a_grandchild_that_completes_while_the_parent_is_cancelled_releases_every_level(engine):
    """The grandchild's task is completed and the parent cancelled in the same batch: the grandchild completes
    (no canceling listener runs), its report releases the middle's call activity, the middle's end the parent's."""
    engine.deploy("canceling-call-child", "canceling-call-middle", "canceling-call-parent")
    parent = engine.start("canceling-call-parent", orderId="N", target="canceling-call-middle")
    [middle] = _children(parent)
    [child] = _children(middle)
    task = UserTask.objects.get(process_instance_key=child)
    complete_user_task([engine.tenant.pk], task.key, {}, "test", engine.now())  # the child completes on its own
    cancel_instance(engine.tenant, parent, "test", engine.now())  # while its completion is on its way up
    drain()
    engine.assert_clean_end(child)
    assert not engine.jobs("tl-cancel-child")
    for k in (middle, parent):
        engine.assert_clean_end(k, "TERMINATED")
    assert [r["intent"] for r in engine.records(middle) if r["intent"].startswith("CHILD_INSTANCE_")] == [
        "CHILD_INSTANCE_CREATED", "CHILD_INSTANCE_COMPLETED"]
    assert not Command.objects.filter(process_instance_key__in=[parent, middle, child], state="PENDING").exists()


def test_a_child_that_completed_meanwhile_releases_its_terminating_call_activity(engine):
    """The recall interrupts the call activity while the child's completion is on its way up: the completion
    releases the call activity (terminated; the child's variables do not come back) and the boundary is taken;
    the cancel that reaches the completed child is refused."""
    parent = _start(engine)
    [child] = _children(parent)
    task = UserTask.objects.get(process_instance_key=child)
    complete_user_task([engine.tenant.pk], task.key, {"verdict": "ok"}, "test", engine.now())
    _publish(engine, "recall")  # both commands are applied in the same batch: the report comes after the recall
    engine.assert_clean_end(child)
    assert engine.terminated(parent)["Call_Review"] == 1 and engine.completed(parent)["End_Recalled"] == 1
    assert [r["intent"] for r in engine.records(parent) if r["intent"].startswith("CHILD_INSTANCE")] == [
        "CHILD_INSTANCE_CREATED", "CHILD_INSTANCE_COMPLETED"]
    assert "verdict" not in engine.variables(parent)
    assert Command.objects.get(process_instance_key=child, kind="CANCEL_INSTANCE").state == "REJECTED"
    _publish(engine, "stop")
    engine.assert_clean_end(parent)


def test_a_child_instance_cannot_be_cancelled_on_its_own(engine):
    """As in Camunda: its call activity waits for it, so only the root instance can be cancelled."""
    parent = _start(engine)
    [child] = _children(parent)
    with pytest.raises(Conflict, match=f"cancel its root process instance {parent} instead"):
        cancel_instance(engine.tenant, child, "test", engine.now())
    drain()
    assert engine.state(child) == "ACTIVE" and _call(parent).state == "ACTIVE"
    assert not Command.objects.filter(process_instance_key=child, kind="CANCEL_INSTANCE").exists()
    cancel_instance(engine.tenant, parent, "test", engine.now())
    drain()
    engine.answer("tl-cancel-child")
    engine.assert_clean_end(child, "TERMINATED")
    engine.assert_clean_end(parent, "TERMINATED")
