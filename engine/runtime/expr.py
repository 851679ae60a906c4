"""Evaluating a definition's expressions against an instance's variables.

Expressions are compiled once per distinct source text (the graph stores source text;
compiled programs are cached here), so the hot path only evaluates. An evaluation
error becomes an IncidentRaised for the element, never a crash of the worker.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from engine import expressions
from engine.expressions import EvaluationError
from engine.runtime.errors import IncidentRaised
from engine.runtime.state import InstanceRun


@lru_cache(maxsize=4096)
def _compiled(text: str, kind: str, language: str | None) -> Any:
    if kind == "condition":
        return expressions.compile_condition(text, language)
    if text.lstrip().startswith("cel:"):
        return expressions.compile_cel(text.lstrip())  # JSON flows write CEL values this way
    return expressions.compile_value(text)


def is_expression(text: str | None) -> bool:
    """`=...` is FEEL; `cel:...` is CEL (what JSON flows compile to; BPMN files write FEEL)."""
    return bool(text) and text.lstrip().startswith(("=", "cel:"))  # type: ignore[union-attr]


def scope_variables(run: InstanceRun, scope_key: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    variables = run.visible_variables(scope_key)
    if extra:
        variables.update(extra)
    return variables


def evaluate(run: InstanceRun, scope_key: int, text: str, error_type: str = "EXTRACT_VALUE_ERROR",
             extra: dict[str, Any] | None = None) -> Any:
    """Value of an attribute: static text as is, `=...`/`cel:...` evaluated in the scope's variables."""
    if not is_expression(text):
        return text
    return _evaluate(_compiled(text, "value", None), run, scope_key, error_type, "evaluate", extra)


def evaluate_condition(run: InstanceRun, scope_key: int, text: str, language: str | None = None,
                       extra: dict[str, Any] | None = None, error_type: str = "CONDITION_ERROR") -> bool:
    return _evaluate(_compiled(text, "condition", language), run, scope_key, error_type, "evaluate_bool", extra)


def _evaluate(expr: Any, run: InstanceRun, scope_key: int, error_type: str, method: str,
              extra: dict[str, Any] | None) -> Any:
    try:
        return getattr(expr, method)(scope_variables(run, scope_key, extra), now=run.now)
    except EvaluationError as exc:
        source = getattr(expr, "source", None) or exc.source
        raise IncidentRaised(error_type, f"failed to evaluate expression '{source}': {exc.message}") from None
