"""Decision tables: which rules match, and what the hit policy makes of them."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from engine.expressions.values import DECIMAL128, to_decimal

from .errors import DecisionError
from .model import DecisionTable
from .trace import table_evaluated
from .unary import feel_equal, matches

Evaluate = Callable[[str, Mapping[str, Any]], Any]  # FEEL text, variables -> value (null on error)


def evaluate_table(table: DecisionTable, variables: Mapping[str, Any], evaluate: Evaluate) -> Any:
    values = [evaluate(item.expression, variables) for item in table.inputs]
    matched = [
        rule
        for rule in table.rules
        if all(matches(entry, value, variables) for entry, value in zip(rule.inputs, values, strict=False))
    ]
    results = [_result(table, [evaluate(text, variables) for text in rule.outputs]) for rule in matched]
    table_evaluated(table, values, matched, results)
    policy = table.hit_policy
    if not results:
        if policy == "COLLECT" and table.aggregation == "COUNT":
            return 0
        defaults = [evaluate(item.default, variables) if item.default else None for item in table.outputs]
        if any(item.default for item in table.outputs):
            return _result(table, defaults)
        return [] if policy in ("COLLECT", "RULE ORDER", "OUTPUT ORDER") and not table.aggregation else None
    if policy == "UNIQUE":
        if len(results) > 1:
            raise DecisionError(f"UNIQUE hit policy: {len(results)} rules matched")
        return results[0]
    if policy == "ANY":
        if any(not feel_equal(results[0], other) for other in results[1:]):
            raise DecisionError("ANY hit policy: matched rules give different outputs")
        return results[0]
    if policy == "FIRST":
        return results[0]
    if policy == "RULE ORDER":
        return results
    if policy in ("PRIORITY", "OUTPUT ORDER"):
        ranked = sorted(results, key=lambda result: _priority(table, result, variables, evaluate))
        return ranked[0] if policy == "PRIORITY" else ranked
    return _aggregate(table.aggregation, results)


def _result(table: DecisionTable, outputs: list[Any]) -> Any:
    if len(table.outputs) == 1:
        return outputs[0]
    return {item.name: value for item, value in zip(table.outputs, outputs, strict=False)}


def _priority(table: DecisionTable, result: Any, variables: Mapping[str, Any], evaluate: Evaluate) -> tuple[int, ...]:
    key = []
    for item in table.outputs:
        value = result if len(table.outputs) == 1 else result.get(item.name)
        allowed = [evaluate(text, variables) for text in item.values]
        position = next((i for i, option in enumerate(allowed) if feel_equal(option, value)), len(allowed))
        key.append(position)
    return tuple(key)


def _aggregate(aggregation: str | None, results: list[Any]) -> Any:
    if aggregation is None:
        return results
    if aggregation == "COUNT":
        return len(results)
    numbers = [value for value in results if value is not None]
    if not numbers:
        return None
    if any(isinstance(value, bool) or not isinstance(value, int | float) for value in numbers):
        if aggregation in ("MIN", "MAX") and all(isinstance(value, str) for value in numbers):
            return min(numbers) if aggregation == "MIN" else max(numbers)
        raise DecisionError(f"{aggregation} aggregation over non-numbers")
    if aggregation == "SUM":  # in decimal, as FEEL's sum(): 0.1 + 0.2 is 0.3
        total = functools.reduce(DECIMAL128.add, (to_decimal(value) for value in numbers))
        return int(total) if total == total.to_integral_value() else float(total)
    if aggregation == "MIN":
        return min(numbers)
    if aggregation == "MAX":
        return max(numbers)
    raise DecisionError(f"unknown aggregation {aggregation}", unsupported=True)
