"""Exclusive gateway: first true condition in document order, else the default flow, else an incident."""

from __future__ import annotations

from collections import Counter

import pytest

from engine.actions.incidents import resolve_incident
from engine.actions.variables import set_variables
from engine.models import Incident
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("amount", "task"), [(150, "Task_Big"), (70, "Task_Medium"), (100, "Task_Medium"),
                                              (10, "Task_Small")])
def test_takes_the_first_true_condition_or_the_default(engine, amount, task):
    engine.deploy("exclusive-gateway")
    key = engine.start("exclusive-gateway", amount=amount)
    engine.assert_clean_end(key)
    assert engine.completion_order(key) == [
        "StartEvent_1", "Gateway_Amount", task, "Gateway_Merge", "EndEvent_1", "exclusive-gateway"]
    assert engine.completed(key) == Counter(["StartEvent_1", "Gateway_Amount", task, "Gateway_Merge", "EndEvent_1",
                                             "exclusive-gateway"])
    assert engine.variables(key) == {"amount": amount}


def test_no_true_condition_and_no_default_is_an_incident_on_the_gateway(engine):
    engine.deploy("exclusive-gateway-no-default")
    key = engine.start("exclusive-gateway-no-default", approved=False, amount=50)
    assert engine.state(key) == "ACTIVE"
    assert engine.active(key) == Counter(["exclusive-gateway-no-default", "Gateway_Check"])
    [(element_id, error_type, message)] = engine.incidents(key)
    assert (element_id, error_type) == ("Gateway_Check", "CONDITION_ERROR")
    assert "Gateway_Check" in message
    assert engine.instance(key).has_incident


def test_a_condition_that_fails_to_evaluate_is_an_incident_not_a_crash(engine):
    engine.deploy("exclusive-gateway-no-default")
    # approved is missing (null): `null = true` is false in FEEL; amount is a string: `<` on a string fails.
    key = engine.start("exclusive-gateway-no-default", amount="lots")
    [(element_id, error_type, message)] = engine.incidents(key)
    assert (element_id, error_type) == ("Gateway_Check", "CONDITION_ERROR")
    assert "amount < 10" in message
    assert engine.state(key) == "ACTIVE"


def test_a_condition_null_from_a_type_error_names_the_warning_and_resolves_once_fixed(engine):
    engine.deploy("exclusive-gateway-no-default")
    # FEEL (Camunda 8): `"lots" < 10` is null, not an error; a condition must be a boolean, so the
    # null is an incident, and its message says why the condition was null.
    key = engine.start("exclusive-gateway-no-default", approved=False, amount="lots")
    [(element_id, error_type, message)] = engine.incidents(key)
    assert (element_id, error_type) == ("Gateway_Check", "CONDITION_ERROR")
    assert message == (
        "failed to evaluate expression '=amount < 10': the condition must be true or false, but it is null; "
        "the evaluation reported: cannot compare string with number using '<'"
    )
    set_variables([engine.tenant.pk], key, {"amount": 5}, False, "test", engine.now())
    drain()
    resolve_incident([engine.tenant.pk], Incident.objects.get(process_instance_key=key, state="ACTIVE").key,
                     "test", engine.now())
    drain()
    assert engine.incidents(key) == []
    engine.assert_clean_end(key)
    assert engine.completed(key)["EndEvent_No"] == 1


def test_second_condition_true(engine):
    engine.deploy("exclusive-gateway-no-default")
    key = engine.start("exclusive-gateway-no-default", approved=False, amount=5)
    engine.assert_clean_end(key)
    assert engine.completed(key)["EndEvent_No"] == 1 and "EndEvent_Yes" not in engine.completed(key)
