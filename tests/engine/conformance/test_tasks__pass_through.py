"""Manual tasks, undefined tasks and none intermediate throw events pass the token on."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_pass_through_elements_complete_in_order(engine):
    engine.deploy("pass-through")
    key = engine.start("pass-through", x=1)
    engine.assert_clean_end(key)
    assert engine.completion_order(key) == [
        "StartEvent_1", "Task_Manual", "Task_Undefined", "Event_Milestone", "EndEvent_1", "pass-through"]
    assert engine.variables(key) == {"x": 1}
