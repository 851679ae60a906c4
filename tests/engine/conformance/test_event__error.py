"""Error end events and error boundary events: caught by errorCode, or by a catch-all; else an incident."""

from __future__ import annotations

from collections import Counter

import pytest

from engine.runtime import loop, steps
from engine.runtime.catching import throw_error

pytestmark = pytest.mark.django_db


def test_error_caught_by_its_code(engine):
    engine.deploy("error-boundary")
    key = engine.start("error-boundary", status="invalid")
    engine.assert_clean_end(key)
    assert engine.completion_order(key) == [
        "StartEvent_1", "StartEvent_Sub", "Gateway_Valid", "Boundary_Invalid", "Task_Fix", "EndEvent_Fixed",
        "error-boundary"]
    assert engine.terminated(key) == Counter(["SubProcess_Check", "EndEvent_Invalid"])
    assert [r["errorCode"] for r in engine.records(key, "ERROR_THROWN")] == ["INVALID"]


def test_exact_code_wins_over_catch_all_and_catch_all_takes_the_rest(engine):
    engine.deploy("error-boundary")
    key = engine.start("error-boundary", status="fraud")
    engine.assert_clean_end(key)
    assert engine.completed(key) == Counter(["StartEvent_1", "StartEvent_Sub", "Gateway_Valid", "Boundary_Any",
                                             "Task_Escalate", "EndEvent_Escalated", "error-boundary"])


def test_no_error_takes_the_normal_flow(engine):
    engine.deploy("error-boundary")
    key = engine.start("error-boundary", status="ok")
    engine.assert_clean_end(key)
    assert engine.completion_order(key) == [
        "StartEvent_1", "StartEvent_Sub", "Gateway_Valid", "EndEvent_Ok", "SubProcess_Check", "EndEvent_Done",
        "error-boundary"]


def test_error_terminates_waiting_work_inside_the_scope(engine):
    engine.deploy("error-boundary")
    key = engine.start("error-boundary", status="review")
    assert engine.active(key)["Task_Review"] == 1


def test_unhandled_error_is_an_incident_on_the_thrower(engine):
    engine.deploy("error-unhandled")
    key = engine.start("error-unhandled")
    assert engine.state(key) == "ACTIVE"
    [(element_id, error_type, message)] = engine.incidents(key)
    assert (element_id, error_type) == ("EndEvent_Invalid", "UNHANDLED_ERROR_EVENT")
    assert "INVALID" in message


def _throw_from_job(engine, instance_key: int, code: str) -> None:
    """What a job's THROW_ERROR processor does (wait-states issue): throw from the job's element."""
    from engine.models import ProcessInstance

    pi = ProcessInstance.objects.select_for_update().get(key=instance_key)
    runs = loop._load_runs({pi.key: pi}, [])
    run = runs[pi.key]
    run.now = engine.now()
    [ei] = [e for e in run.elements.values() if e.element_id == "Task_Charge"]
    try:
        throw_error(run, ei, code)
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        from engine.runtime.errors import IncidentRaised

        assert isinstance(exc, IncidentRaised)
        run.add_incident(ei, exc.error_type, exc.message)
    steps.run_agenda(run)
    loop._flush([run], [], [], replay=False)


def test_error_from_a_task_is_caught_by_its_boundary_event(engine):
    engine.deploy("error-boundary-task")
    key = engine.start("error-boundary-task")
    _throw_from_job(engine, key, "FRAUD")
    engine.assert_clean_end(key)
    assert engine.completed(key) == Counter(["StartEvent_1", "Boundary_Fraud", "EndEvent_Fraud",
                                             "error-boundary-task"])
    assert engine.terminated(key) == Counter(["Task_Charge"])
    from engine.models import Job

    assert list(Job.objects.filter(process_instance_key=key).values_list("state", flat=True)) == ["CANCELED"]


def test_error_from_a_task_with_no_matching_boundary_is_an_incident(engine):
    engine.deploy("error-boundary-task")
    key = engine.start("error-boundary-task")
    _throw_from_job(engine, key, "OTHER")
    [(element_id, error_type, _)] = engine.incidents(key)
    assert (element_id, error_type) == ("Task_Charge", "UNHANDLED_ERROR_EVENT")
