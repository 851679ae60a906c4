"""What one evaluation did, for the decision instances Camunda records (Operate's "evaluated inputs"
and "matched rules"): each decision evaluated, in order, with its result, and for a decision table the
input values and the rules that decided it.

Evaluation code reports through two calls that cost nothing when no trace is open:
`table_evaluated` (tables.py) and `decision_started` / `decision_evaluated` (evaluate.py).

    with tracing() as trace:
        evaluate(definitions, "Approval", inputs)
    trace.decisions   # [DecisionRecord, ...] in evaluation order; trace.failed: the decision that raised
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.expressions import FeelFunction, as_json

from .model import Decision, DecisionTable, Rule

_SINGLE_HIT = frozenset({"UNIQUE", "ANY", "FIRST"})


@dataclass
class DecisionRecord:
    decision: Decision
    result: Any  # JSON-able
    inputs: list[dict[str, Any]] = field(default_factory=list)
    matched_rules: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Trace:
    decisions: list[DecisionRecord] = field(default_factory=list)
    failed: Decision | None = None
    # The last evaluation of each table (by identity): values, matched rules, their results.
    _tables: dict[int, tuple[list[Any], list[Rule], list[Any]]] = field(default_factory=dict)
    _open: list[Decision] = field(default_factory=list)


_active: ContextVar[Trace | None] = ContextVar("dmn_trace", default=None)


@contextmanager
def tracing() -> Iterator[Trace]:
    trace = Trace()
    token = _active.set(trace)
    try:
        yield trace
    finally:
        _active.reset(token)


def table_evaluated(table: DecisionTable, values: list[Any], matched: list[Rule], results: list[Any]) -> None:
    trace = _active.get()
    if trace is not None:
        trace._tables[id(table)] = (values, matched, results)


def decision_started(decision: Decision) -> None:
    trace = _active.get()
    if trace is not None:
        trace._open.append(decision)
        trace.failed = decision  # until it finishes: the innermost unfinished decision is the one that failed


def decision_evaluated(decision: Decision, value: Any) -> None:
    trace = _active.get()
    if trace is None:
        return
    if trace._open and trace._open[-1] is decision:
        trace._open.pop()
    trace.failed = trace._open[-1] if trace._open else None
    record = DecisionRecord(decision, to_json(value))
    table = decision.logic
    seen = trace._tables.pop(id(table), None) if isinstance(table, DecisionTable) else None
    if isinstance(table, DecisionTable) and seen is not None:
        values, matched, results = seen
        record.inputs = [
            {"inputId": item.id, "inputName": item.label or item.expression, "inputValue": dumps(value)}
            for item, value in zip(table.inputs, values, strict=False)
        ]
        deciding = _deciding(table, matched, results, value)
        record.matched_rules = [_rule(table, rule, result) for rule, result in deciding]
    trace.decisions.append(record)


def _deciding(table: DecisionTable, matched: list[Rule], results: list[Any], value: Any) -> list[tuple[Rule, Any]]:
    """The matched rules that made the result: one for single-hit policies, all for the others."""
    pairs = list(zip(matched, results, strict=False))
    if table.hit_policy in _SINGLE_HIT:
        return pairs[:1]
    if table.hit_policy == "PRIORITY":
        return [next((pair for pair in pairs if pair[1] == value), pairs[0])] if pairs else []
    return pairs


def _rule(table: DecisionTable, rule: Rule, result: Any) -> dict[str, Any]:
    index = next(i for i, candidate in enumerate(table.rules, 1) if candidate is rule)
    rule_id = rule.id or f"rule-{index}"
    outputs = []
    for output in table.outputs:
        value = result if len(table.outputs) == 1 else (result or {}).get(output.name)
        outputs.append({"outputId": output.id, "outputName": output.name or output.label,
                        "outputValue": dumps(value), "ruleId": rule_id, "ruleIndex": index})
    return {"ruleId": rule_id, "ruleIndex": index, "evaluatedOutputs": outputs}


def to_json(value: Any) -> Any:
    """A FEEL value as JSON data (variables, stored results): FEEL temporals as ISO 8601 text (the
    expression layer's as_json), functions and ranges null, numbers stay numbers."""
    return _plain(as_json(value, strict=False))


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() and abs(value) < 2**63 else float(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date | dt.time | dt.datetime):
        return value.isoformat()
    if isinstance(value, FeelFunction):
        return None
    return str(value)


def dumps(value: Any) -> str:
    """A value as the JSON text Camunda's API carries (inputValue, outputValue, result)."""
    return json.dumps(to_json(value), separators=(",", ":"), ensure_ascii=False)
