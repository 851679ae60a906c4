"""FEEL failures in BPMN expressions, as Camunda 8 (feel-scala 1.17+) has them: the failing part is
null and the evaluation goes on; the place the value goes decides. A mapping takes the null, a
place that needs a kind of value (a condition, a job type) raises an incident that says why."""

from __future__ import annotations

import pytest

from engine.actions.incidents import resolve_incident
from engine.actions.variables import set_variables
from engine.models import Incident
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db


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
