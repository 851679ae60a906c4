"""Embedded subprocess: own variable scope, completes when no token is left inside."""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = pytest.mark.django_db


def test_subprocess_has_its_own_variable_scope(engine):
    engine.deploy("subprocess")
    key = engine.start("subprocess", start=41)
    engine.assert_clean_end(key)
    assert engine.completion_order(key) == [
        "StartEvent_1", "StartEvent_Sub", "Task_Increment", "Task_Note", "EndEvent_Sub", "SubProcess_Count",
        "EndEvent_1", "subprocess"]
    # count is local to the subprocess (input mapping): the script updated it there; note went up to the
    # process (no scope had it); the output mapping carried count out as finalCount.
    assert engine.variables(key) == {"start": 41, "note": "counted to 42", "finalCount": 42}
    assert ("SubProcess_Count", "count", 42) in engine.all_variables(key)


def test_nested_subprocesses_complete_inside_out(engine):
    engine.deploy("subprocess-nested")
    key = engine.start("subprocess-nested")
    assert engine.active(key) == Counter(["subprocess-nested", "SubProcess_Outer", "SubProcess_Inner", "Task_Inner"])
    assert engine.completed(key)["EndEvent_Side"] == 1
    engine.complete_jobs("inner-work", {"done": True})
    engine.assert_clean_end(key)
    assert engine.completion_order(key)[-7:] == [
        "Task_Inner", "EndEvent_Inner", "SubProcess_Inner", "EndEvent_Outer", "SubProcess_Outer", "EndEvent_1",
        "subprocess-nested"]
    assert engine.variables(key) == {"done": True}


def test_cancel_terminates_nested_scopes(engine):
    from engine.actions.instances import cancel_instance
    from engine.runtime.loop import drain

    engine.deploy("subprocess-nested")
    key = engine.start("subprocess-nested")
    cancel_instance(engine.tenant, key, "test", engine.now())
    drain()
    engine.assert_clean_end(key, "TERMINATED")
    assert engine.terminated(key) == Counter(["subprocess-nested", "SubProcess_Outer", "SubProcess_Inner",
                                              "Task_Inner"])
