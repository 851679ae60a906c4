"""Evaluating a definition's expressions against an instance's variables.

Expressions are compiled once per distinct source text (the graph stores source text;
compiled programs are cached here), so the hot path only evaluates. An evaluation
error becomes an IncidentRaised for the element, never a crash of the worker.

FEEL gives null where a part of an expression fails (a type error, a failed call: Camunda 8's
"suppressed failures"), so what decides is the place the value goes, as in Zeebe: a mapping,
a script's result or an output element take any value, null included (`evaluate`); a place
that needs a value of a kind raises an incident when it gets null or another kind
(`evaluate_condition`, `evaluate_string`, `evaluate_int`, or the caller's own check with `why`),
and the message lists the variables that were not set and the evaluation's warnings.
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


def evaluate_string(run: InstanceRun, scope_key: int, text: str, what: str,
                    error_type: str = "EXTRACT_VALUE_ERROR", extra: dict[str, Any] | None = None) -> str:
    """A value that must be a string (a job type, a message or signal name, an error code...):
    static text as is; an expression's string, or number written as string() does; else an incident."""
    if not is_expression(text):
        return text
    return _evaluate(_compiled(text, "value", None), run, scope_key, error_type, "evaluate_str", extra, what)


def evaluate_int(run: InstanceRun, scope_key: int, text: str, what: str,
                 error_type: str = "EXTRACT_VALUE_ERROR", extra: dict[str, Any] | None = None) -> int:
    """A value that must be a whole number (job retries): static digits, or an expression's number."""
    value = evaluate(run, scope_key, text, error_type, extra)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():  # "3" as written, or as a variable holds it
        return int(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        return int(value)
    raise IncidentRaised(error_type, f"failed to evaluate expression '{text}' ({what}): expected a whole number, "
                                     f"but the value is {value!r}{why(run, scope_key, text, value, extra)}")


def why(run: InstanceRun, scope_key: int, text: str | None, value: Any, extra: dict[str, Any] | None = None) -> str:
    """For an incident that refuses `value`, the result of expression `text`: when it is null, the
    variables that were not set and the evaluation's warnings (type errors...); "" otherwise."""
    if value is not None or not text or not is_expression(text):
        return ""
    expr = _compiled(text, "value", None)
    return expr.why(value, scope_variables(run, scope_key, extra), run.now)  # type: ignore[no-any-return]


def evaluate_condition(run: InstanceRun, scope_key: int, text: str, language: str | None = None,
                       extra: dict[str, Any] | None = None, error_type: str = "CONDITION_ERROR") -> bool:
    return _evaluate(_compiled(text, "condition", language), run, scope_key, error_type, "evaluate_bool", extra)


def _evaluate(expr: Any, run: InstanceRun, scope_key: int, error_type: str, method: str,
              extra: dict[str, Any] | None, what: str | None = None) -> Any:
    try:
        return getattr(expr, method)(scope_variables(run, scope_key, extra), now=run.now)
    except EvaluationError as exc:
        source = getattr(expr, "source", None) or exc.source
        purpose = f" ({what})" if what else ""
        raise IncidentRaised(error_type, f"failed to evaluate expression '{source}'{purpose}: {exc.message}") from None
