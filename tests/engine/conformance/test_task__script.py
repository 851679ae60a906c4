"""Script task: `zeebe:script` expression, result in `resultVariable`."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_script_results_become_process_variables(engine):
    engine.deploy("script-task")
    key = engine.start("script-task", price=30, quantity=4, customer={"name": "Ada"})
    engine.assert_clean_end(key)
    assert engine.completion_order(key) == [
        "StartEvent_1", "Task_Total", "Task_Greeting", "Task_Flags", "EndEvent_1", "script-task"]
    assert engine.variables(key) == {
        "price": 30, "quantity": 4, "customer": {"name": "Ada"}, "total": 120,
        "greeting": "Dear Ada, you owe 120", "flags": {"vip": True, "items": [30, 4]},
    }


def test_a_script_that_fails_is_an_incident_on_the_task(engine):
    engine.deploy("script-task")
    key = engine.start("script-task", price="thirty", quantity=4, customer={"name": "Ada"})
    [(element_id, error_type, _message)] = engine.incidents(key)
    assert (element_id, error_type) == ("Task_Total", "EXTRACT_VALUE_ERROR")
    assert engine.state(key) == "ACTIVE"
