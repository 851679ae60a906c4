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


def test_a_script_whose_expression_fails_has_a_null_result(engine):
    # Camunda 8: `"thirty" * 4` is null (a suppressed failure); a result variable takes any value,
    # so the null flows on: `string(null)` and `null > 100` are null too.
    engine.deploy("script-task")
    key = engine.start("script-task", price="thirty", quantity=4, customer={"name": "Ada"})
    engine.assert_clean_end(key)
    variables = engine.variables(key)
    assert variables["total"] is None and variables["greeting"] is None
    assert variables["flags"] == {"vip": None, "items": ["thirty", 4]}
