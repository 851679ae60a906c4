"""Inclusive gateway: fork on every true condition (default if none); the join waits only for tokens
that can still arrive."""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = pytest.mark.django_db


def test_fork_on_two_conditions_join_waits_for_both(engine):
    engine.deploy("inclusive-gateway")
    key = engine.start("inclusive-gateway", a=True, b=True, c=False)
    assert engine.active(key) == Counter(["inclusive-gateway", "Task_B"])
    engine.complete_jobs("check-b", {"rb": "b done"})
    engine.assert_clean_end(key)
    assert engine.completed(key) == Counter(["StartEvent_1", "Gateway_Fork", "Task_A", "Task_B", "Gateway_Join",
                                             "Task_After", "EndEvent_1", "inclusive-gateway"])
    assert engine.completion_order(key)[-4:] == ["Gateway_Join", "Task_After", "EndEvent_1", "inclusive-gateway"]
    assert engine.variables(key) == {"a": True, "b": True, "c": False, "ra": "a done", "rb": "b done"}


@pytest.mark.parametrize(("flags", "tasks"), [
    ({"a": False, "b": False, "c": True}, ["Task_C"]),
    ({"a": True, "b": False, "c": True}, ["Task_A", "Task_C"]),
])
def test_join_fires_once_for_the_branches_taken(engine, flags, tasks):
    engine.deploy("inclusive-gateway")
    key = engine.start("inclusive-gateway", **flags)
    engine.assert_clean_end(key)
    assert engine.completed(key) == Counter(["StartEvent_1", "Gateway_Fork", *tasks, "Gateway_Join", "Task_After",
                                             "EndEvent_1", "inclusive-gateway"])


def test_no_true_condition_takes_the_default(engine):
    engine.deploy("inclusive-gateway")
    key = engine.start("inclusive-gateway", a=False, b=False, c=False)
    engine.assert_clean_end(key)
    assert engine.completion_order(key) == ["StartEvent_1", "Gateway_Fork", "Task_None", "EndEvent_None",
                                            "inclusive-gateway"]


def test_all_three(engine):
    engine.deploy("inclusive-gateway")
    key = engine.start("inclusive-gateway", a=True, b=True, c=True)
    engine.complete_jobs("check-b")
    engine.assert_clean_end(key)
    assert engine.completed(key)["Gateway_Join"] == 1


def test_join_waits_while_a_token_can_still_arrive(engine):
    engine.deploy("inclusive-join-upstream")
    key = engine.start("inclusive-join-upstream", join=True)
    assert engine.active(key) == Counter(["inclusive-join-upstream", "Task_Maybe"])
    engine.complete_jobs("maybe")
    engine.assert_clean_end(key)
    assert engine.completed(key) == Counter(["StartEvent_1", "Gateway_Fork", "Task_Direct", "Task_Maybe",
                                             "Gateway_Route", "Gateway_Join", "EndEvent_1",
                                             "inclusive-join-upstream"])


def test_join_fires_when_the_other_token_goes_elsewhere(engine):
    engine.deploy("inclusive-join-upstream")
    key = engine.start("inclusive-join-upstream", join=False)
    engine.complete_jobs("maybe")
    engine.assert_clean_end(key)
    assert engine.completed(key) == Counter(["StartEvent_1", "Gateway_Fork", "Task_Direct", "Task_Maybe",
                                             "Gateway_Route", "EndEvent_Away", "Gateway_Join", "EndEvent_1",
                                             "inclusive-join-upstream"])
