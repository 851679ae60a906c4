"""The benchmark's gateway reference process (bench/gateway_reference.py), run for correctness."""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = pytest.mark.django_db


def test_big_order_forks_three_scripts_and_joins(engine):
    engine.deploy("gateway-reference")
    key = engine.start("gateway-reference", amount=150)
    engine.assert_clean_end(key)
    assert engine.completed(key) == Counter(["StartEvent_1", "Gateway_Amount", "Gateway_Fork", "Task_Tax", "Task_Fee",
                                             "Task_Label", "Gateway_Join", "EndEvent_Big", "gateway-reference"])
    assert engine.completion_order(key)[:3] == ["StartEvent_1", "Gateway_Amount", "Gateway_Fork"]
    assert engine.completion_order(key)[-3:] == ["Gateway_Join", "EndEvent_Big", "gateway-reference"]
    assert engine.variables(key) == {"amount": 150, "tax": 30.0, "fee": 5, "label": "order-150"}


def test_small_order_ends_at_once(engine):
    engine.deploy("gateway-reference")
    key = engine.start("gateway-reference", amount=100)
    engine.assert_clean_end(key)
    assert engine.completion_order(key) == ["StartEvent_1", "Gateway_Amount", "EndEvent_Small", "gateway-reference"]
