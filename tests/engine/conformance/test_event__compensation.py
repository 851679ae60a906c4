"""Compensation (Camunda 8): boundary events with their handlers, throw events (all or one activity),
subprocesses, multi-instance, event subprocesses; only completed activities, latest first, once each."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from engine.actions.jobs import activate_jobs, throw_error
from engine.actions.migration import migrate_instance
from engine.definitions.deploy import Resource, deploy
from engine.models import ElementInstance, Job, ProcessInstance
from engine.runtime.loop import drain
from tests.engine.conformance.harness import BPMN

pytestmark = pytest.mark.django_db


def _fail_payment(engine) -> None:  # type: ignore[no-untyped-def]
    [job] = activate_jobs([engine.tenant.pk], "charge-card", "test", 60_000, 1, engine.now())
    throw_error([engine.tenant.pk], job.key, "PAYMENT_FAILED", "card declined", None, "test", engine.now())
    drain()


def test_a_failed_payment_cancels_the_bookings_latest_first(engine):
    engine.deploy("compensation-trip")
    key = engine.start("trip-booking", trip="Lisbon")
    engine.complete_jobs("book-hotel", {"hotelBooking": "H-1"})
    engine.complete_jobs("book-flight", {"flightBooking": "F-7"})
    _fail_payment(engine)
    # Both handlers were invoked at once, the flight (booked last) first; the throw event waits for them.
    assert engine.active(key) == Counter(["trip-booking", "Throw_Compensate", "Task_CancelFlight", "Task_CancelHotel"])
    flight, hotel = engine.jobs("cancel-flight") + engine.jobs("cancel-hotel")
    assert flight.key < hotel.key
    assert engine.job_variables(flight)["booking"] == "F-7"  # the handler's input mapping
    assert engine.job_variables(hotel)["booking"] == "H-1"
    [thrown] = engine.records(key, "COMPENSATION_THROWN")
    assert [c["elementId"] for c in thrown["compensated"]] == ["Task_BookFlight", "Task_BookHotel"]
    # The handlers are children of the throw event, which completes when the last one did.
    throw_key = ElementInstance.objects.get(process_instance_id=key, element_id="Throw_Compensate").key
    assert set(ElementInstance.objects.filter(process_instance_id=key, element_id__startswith="Task_Cancel")
               .values_list("flow_scope_key", flat=True)) == {throw_key}
    engine.complete_jobs("cancel-flight", {"refund": 420})
    assert engine.active(key)["Throw_Compensate"] == 1
    engine.complete_jobs("cancel-hotel", {"refund": 180})
    engine.assert_clean_end(key)
    assert engine.completion_order(key)[-5:] == [
        "Task_CancelFlight", "Task_CancelHotel", "Throw_Compensate", "EndEvent_Cancelled", "trip-booking"]
    assert engine.terminated(key) == Counter(["Task_ChargeCard"])
    variables = engine.variables(key)
    assert (variables["flightRefund"], variables["hotelRefund"]) == (420, 180)  # the handlers' output mappings
    assert "booking" not in variables


def test_a_paid_trip_never_compensates(engine):
    engine.deploy("compensation-trip")
    key = engine.start("trip-booking")
    for job_type in ("book-hotel", "book-flight", "charge-card"):
        engine.complete_jobs(job_type)
    engine.assert_clean_end(key)
    assert not engine.jobs("cancel-hotel") and not engine.jobs("cancel-flight")
    assert "Task_CancelHotel" not in engine.completed(key)


def test_compensating_all_goes_into_completed_subprocesses_in_reverse_order_and_only_once(engine):
    engine.deploy("compensation-scopes")
    key = engine.start("compensation-scopes", done=[], undone=[], mode="all")
    engine.assert_clean_end(key)
    variables = engine.variables(key)
    assert variables["done"] == ["A", "B", "C"]
    # S completed last (after B and C inside it), then M (its handler once for all three instances), then A.
    assert variables["undone"] == ["S", "C", "B", "M", "A"]
    assert engine.completed(key)["Undo_M"] == 1 and engine.completed(key)["Task_M"] == 4  # the body and 3 instances
    # The second throw finds nothing left to compensate and passes at once.
    second = engine.records(key, "COMPENSATION_THROWN")[1]
    assert (second["elementId"], second["compensated"]) == ("Throw_Again", [])


def test_activity_ref_compensates_one_activity_and_leaves_the_rest(engine):
    engine.deploy("compensation-scopes")
    key = engine.start("compensation-scopes", done=[], undone=[], mode="one")
    engine.assert_clean_end(key)
    first, rest = engine.records(key, "COMPENSATION_THROWN")
    assert (first["activityRef"], [c["elementId"] for c in first["compensated"]]) == ("Task_A", ["Task_A"])
    # The compensation end event takes what is left, A no more.
    assert engine.variables(key)["undone"] == ["A", "S", "C", "B", "M"]
    assert rest["elementId"] == "EndEvent_Rest"


def test_a_throw_inside_a_subprocess_compensates_only_inside_it(engine):
    engine.deploy("compensation-inner")
    key = engine.start("compensation-inner", done=[], undone=[])
    engine.assert_clean_end(key)
    assert engine.variables(key)["undone"] == ["D"]
    assert "Undo_E" not in engine.completed(key)


def test_an_event_subprocess_compensates_its_outer_scope_but_not_the_activity_still_running(engine):
    engine.deploy("compensation-event-subprocess")
    key = engine.start("compensation-event-subprocess", done=[], undone=[])
    engine.assert_clean_end(key)
    assert engine.variables(key)["undone"] == ["B", "A"]
    # Task_Slow was active when the error came (terminated with the thrower): not compensated.
    assert engine.terminated(key) == Counter(["Task_Slow", "EndEvent_Fail"])
    assert "Undo_Slow" not in engine.completed(key)
    assert list(Job.objects.filter(process_instance_key=key).values_list("state", flat=True)) == ["CANCELED"]


def test_the_record_of_completed_activities_is_in_the_scope_row(engine):
    """Durability: what to compensate later is in the flushed row of the scope, not in memory."""
    engine.deploy("compensation-trip")
    key = engine.start("trip-booking")
    engine.complete_jobs("book-hotel")
    engine.complete_jobs("book-flight")
    process = ElementInstance.objects.get(key=key)
    assert [e["e"] for e in process.data["compensable"]] == ["Task_BookHotel", "Task_BookFlight"]
    _fail_payment(engine)
    assert ElementInstance.objects.get(key=key).data["compensable"] == []


def test_an_activity_completed_twice_is_compensated_twice(engine):
    engine.deploy("compensation-loop")
    key = engine.start("compensation-loop", done=[], undone=[])
    engine.assert_clean_end(key)
    assert engine.variables(key)["done"] == ["A", "A"]
    assert engine.variables(key)["undone"] == ["A", "A"]
    [thrown] = engine.records(key, "COMPENSATION_THROWN")
    first, second = ElementInstance.objects.filter(process_instance_id=key, element_id="Task_A").order_by("key")
    assert [c["key"] for c in thrown["compensated"]] == [str(second.key), str(first.key)]  # the latest first


def test_a_handler_gone_after_a_migration_is_an_incident_not_a_silent_skip(engine):
    engine.deploy("compensation-trip")
    key = engine.start("trip-booking")
    engine.complete_jobs("book-hotel")
    # Version 2 no longer compensates the hotel: boundary event, handler and association removed.
    text = (BPMN / "compensation-trip.bpmn").read_text()
    for pattern in (r'<bpmn:boundaryEvent id="Boundary_CompensateHotel".*?</bpmn:boundaryEvent>',
                    r'<bpmn:serviceTask id="Task_CancelHotel".*?</bpmn:serviceTask>',
                    r'<bpmn:association id="Association_Hotel"[^>]*/>',
                    r'<bpmndi:BPMNShape id="(Boundary_CompensateHotel|Task_CancelHotel)_di".*?</bpmndi:BPMNShape>',
                    r'<bpmndi:BPMNEdge id="Association_Hotel_di".*?</bpmndi:BPMNEdge>'):
        text = re.sub(pattern, "", text, flags=re.S)
    assert "Hotel_di" not in text.replace("Task_BookHotel_di", "")
    [v2] = deploy(engine.tenant, [Resource("trip-booking.bpmn", text.encode())], engine.now())[1]
    assert v2.version == 2
    migrate_instance([engine.tenant.pk], key, v2.key, [("Task_BookFlight", "Task_BookFlight")], "test", engine.now())
    drain()
    engine.complete_jobs("book-flight")
    _fail_payment(engine)
    [(element_id, error_type, message)] = engine.incidents(key)
    assert (element_id, error_type) == ("Throw_Compensate", "UNKNOWN") and "Task_BookHotel" in message
    # Nothing was consumed: the record is intact for when the incident is resolved.
    assert [e["e"] for e in ElementInstance.objects.get(key=key).data["compensable"]] == [
        "Task_BookHotel", "Task_BookFlight"]


def test_a_call_activity_is_compensated_by_its_own_handler_not_the_childs(engine):
    engine.deploy("compensation-call-child", "compensation-call")
    key = engine.start("compensation-call", done=[], undone=[])
    engine.assert_clean_end(key)
    variables = engine.variables(key)
    assert variables["done"] == ["X"]  # the child did X (its variables came back)
    assert variables["undone"] == ["Call"]  # only the call activity's handler
    [child] = ProcessInstance.objects.filter(parent_instance_key=key)
    assert "Undo_X" not in engine.completed(child.key) and child.state == "COMPLETED"
