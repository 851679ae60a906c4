"""Parallel gateway: fork takes every flow; the join waits for one token per incoming flow."""

from __future__ import annotations

from collections import Counter

import pytest

from engine.models import ElementInstance

pytestmark = pytest.mark.django_db


def test_fork_and_join(engine):
    engine.deploy("parallel-gateway")
    key = engine.start("parallel-gateway", base=10)
    # A and B (scripts) are done and wait at the join; C waits for its worker.
    assert engine.active(key) == Counter(["parallel-gateway", "Task_C"])
    process = ElementInstance.objects.get(key=key)
    assert process.data["tokens"] == {"Gateway_Join": {"Flow_A2": 1, "Flow_B2": 1}}
    [job] = engine.complete_jobs("compute-c", {"c": 100})
    engine.assert_clean_end(key)
    assert engine.completed(key) == Counter([
        "StartEvent_1", "Gateway_Fork", "Task_A", "Task_B", "Task_C", "Gateway_Join", "Task_Sum", "EndEvent_1",
        "parallel-gateway"])
    order = engine.completion_order(key)
    assert order[:2] == ["StartEvent_1", "Gateway_Fork"]
    assert order[-4:] == ["Gateway_Join", "Task_Sum", "EndEvent_1", "parallel-gateway"]
    assert engine.variables(key) == {"base": 10, "a": 11, "b": 20, "c": 100, "sum": 131}


def test_join_fires_once_per_round(engine):
    """Gateway_Join activates exactly once for the three arrivals."""
    engine.deploy("parallel-gateway")
    key = engine.start("parallel-gateway", base=1)
    engine.complete_jobs("compute-c", {"c": 1})
    assert [r["elementId"] for r in engine.records(key, "ELEMENT_ACTIVATED")].count("Gateway_Join") == 1
