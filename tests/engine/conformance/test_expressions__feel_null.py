"""FEEL failures in BPMN expressions, as Camunda 8 (feel-scala 1.17+) has them: the failing part is
null and the evaluation goes on; the place the value goes decides. A mapping takes the null, a
place that needs a kind of value (a condition, a job type) raises an incident that says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.actions.incidents import resolve_incident
from engine.actions.variables import set_variables
from engine.definitions.deploy import Resource, deploy
from engine.models import Incident
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db

HERE = Path(__file__).resolve().parent
WAITS = HERE.parent / "waits" / "bpmn"


def _fix_and_resolve(engine, key: int, **variables) -> None:  # type: ignore[no-untyped-def]
    """What an operator does: correct the variables, then resolve the incident."""
    set_variables([engine.tenant.pk], key, variables, False, "test", engine.now())
    drain()
    resolve_incident([engine.tenant.pk], Incident.objects.get(process_instance_key=key, state="ACTIVE").key,
                     "test", engine.now())
    drain()


def test_an_output_mapping_that_fails_gives_a_null_variable_and_the_instance_completes(engine):
    engine.deploy("feel-null")
    key = engine.start("feel-null", quantity=3, tier="gold")
    engine.complete_jobs("work")
    assert engine.incidents(key) == []
    variables = engine.variables(key)
    assert "sum" in variables and variables["sum"] is None  # `"a" + 1`: null, not an incident
    assert variables["double"] == 6  # the other mapping of the same task is unaffected
    engine.complete_jobs("worker-gold")
    engine.assert_clean_end(key)


def test_a_job_type_that_is_null_is_an_incident_that_names_the_warning(engine):
    engine.deploy("feel-null")
    key = engine.start("feel-null", quantity=3, tier=1)
    engine.complete_jobs("work")
    [(element_id, error_type, message)] = engine.incidents(key)
    assert (element_id, error_type) == ("Task_Typed", "EXTRACT_VALUE_ERROR")
    assert message == (
        "failed to evaluate expression '=\"worker-\" + tier' (the job type): expected a string or a number, "
        "but the value is null; the evaluation reported: cannot add string and number (convert with string())"
    )
    assert engine.state(key) == "ACTIVE" and not engine.jobs("None")
    _fix_and_resolve(engine, key, tier="silver")
    assert engine.incidents(key) == []
    engine.complete_jobs("worker-silver")
    engine.assert_clean_end(key)


def test_a_job_type_of_a_variable_that_is_not_set_names_it(engine):
    engine.deploy("feel-null")
    key = engine.start("feel-null", quantity=3)
    engine.complete_jobs("work")
    [(_, error_type, message)] = engine.incidents(key)
    assert error_type == "EXTRACT_VALUE_ERROR"
    assert message.endswith("but the value is null (not set: tier)")


def _deploy_changed(engine, path: Path, old: bytes, new: bytes) -> None:  # type: ignore[no-untyped-def]
    source = path.read_bytes()
    assert old in source
    deploy(engine.tenant, [Resource(path.name, source.replace(old, new))], engine.now())


def test_an_input_collection_that_is_null_is_an_incident_that_names_the_warning(engine):
    _deploy_changed(engine, HERE / "bpmn" / "multi-instance-parallel.bpmn",
                    b'inputCollection="=items"', b'inputCollection="=sublist(items, &quot;1&quot;)"')
    key = engine.start("multi-instance-parallel", items=[1, 2])
    [(element_id, error_type, message)] = engine.incidents(key)
    assert (element_id, error_type) == ("Task_Each", "EXTRACT_VALUE_ERROR")
    assert message == ("Expected the inputCollection of 'Task_Each' to be a list, but it was NoneType: None; "
                       "the evaluation reported: sublist() expects numbers, got string")


def test_a_correlation_key_that_is_null_is_an_incident_that_names_the_warning(engine):
    _deploy_changed(engine, WAITS / "messages.bpmn", b'correlationKey="=orderId"', b'correlationKey="=orderId + 1"')
    key = engine.start("messages", orderId="A-1")
    [(_, error_type, message)] = engine.incidents(key)
    assert error_type == "EXTRACT_VALUE_ERROR"
    assert message.endswith("evaluated to None; expected a string or number; the evaluation reported: "
                            "cannot add string and number (convert with string())"), message


def test_a_timer_that_is_null_is_an_incident_that_names_the_warning(engine):
    _deploy_changed(engine, WAITS / "timers.bpmn", b">=delay<", b">=duration(delay)<")
    key = engine.start("timers", delay=10)
    [(element_id, error_type, message)] = engine.incidents(key)
    assert (element_id, error_type) == ("Wait", "EXTRACT_VALUE_ERROR")
    assert message == ("timer of 'Wait': expected a date, a duration or a cycle, but the value is null; "
                       "the evaluation reported: duration() cannot convert number")
