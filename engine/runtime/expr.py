"""Evaluating a definition's expressions against an instance's variables.

Expressions are compiled once per distinct source text (the graph stores source text;
compiled programs are cached here), so the hot path only evaluates.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from engine.runtime.errors import IncidentRaised
from engine.runtime.state import InstanceRun


@lru_cache(maxsize=4096)
def _compiled(text: str, kind: str, language: str | None) -> Any:
    from engine import expressions

    if kind == "condition":
        return expressions.compile_condition(text, language)
    return expressions.compile_value(text)


def is_expression(text: str | None) -> bool:
    return bool(text) and text.lstrip().startswith("=")


def evaluate(run: InstanceRun, scope_key: int, text: str, error_type: str = "EXTRACT_VALUE_ERROR") -> Any:
    """Value of an attribute: static text as is, `=...` evaluated as FEEL in the scope's variables."""
    if not is_expression(text):
        return text
    return _evaluate(_compiled(text, "value", None), run, scope_key, error_type, "evaluate")


def evaluate_condition(run: InstanceRun, scope_key: int, text: str, language: str | None = None) -> bool:
    return _evaluate(_compiled(text, "condition", language), run, scope_key, "CONDITION_ERROR", "evaluate_bool")


def _evaluate(expr: Any, run: InstanceRun, scope_key: int, error_type: str, method: str) -> Any:
    from engine.expressions import EvaluationError

    try:
        return getattr(expr, method)(run.visible_variables(scope_key), now=run.now)
    except EvaluationError as exc:
        raise IncidentRaised(error_type, f"failed to evaluate expression '{expr.source}': {exc}") from None
