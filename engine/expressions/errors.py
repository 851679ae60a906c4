"""The two ways an expression can fail: when it is compiled, and when it is evaluated.

They are separate classes because they happen at different times and lead to different outcomes:
an `ExpressionError` rejects a deployment (the file is wrong), an `EvaluationError` raises an
incident on one running instance (the data is wrong).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class ExpressionError(ValueError):
    """Deploy time: a syntax error, or FEEL outside the supported subset.

    `column` is 1-based and counts characters of `text` as written in the file (including a
    leading "=" or "cel:"), so a user can find the spot in the attribute they wrote.
    """

    def __init__(self, text: str, message: str, column: int | None = None) -> None:
        self.text = text
        self.message = message
        self.column = column
        super().__init__(f"{message} in expression {text!r}")


class InvocationError(ExpressionError):
    """Deploy time: a built-in called with the wrong number of arguments or an unknown parameter name,
    or a context literal that names a key twice.

    FEEL evaluates such a call to null; BPMN refuses it at deploy (the file is surely wrong),
    a DMN decision may take FEEL's null instead.
    """


class EvaluationError(Exception):
    """Run time: a condition that is not a boolean, a value of the wrong type for where it is used,
    a missing clock, a CEL error... (a FEEL type error inside an expression is null, not this).

    `source` is the expression as written, when known, so an incident can show it.
    """

    def __init__(self, message: str, source: str | None = None) -> None:
        self.message = message
        self.source = source
        super().__init__(f"{message} (evaluating {source!r})" if source is not None else message)


# --- evaluation warnings ----------------------------------------------------------------------------
# FEEL (and Camunda 8 since feel-scala 1.17) turns a failure inside an expression into null and goes
# on; the reasons are "warnings". They are collected only when a caller asks (Expression.explain, on
# the path that raises an incident): the hot path then pays nothing but a ContextVar read on failure.

_WARNINGS: ContextVar[list[str] | None] = ContextVar("feel_warnings", default=None)


def warn(message: str) -> None:
    """Record why a sub-expression became null, if someone collects the reasons."""
    collected = _WARNINGS.get()
    if collected is not None and message not in collected:
        collected.append(message)


def warn_if_first(message: str) -> None:
    """`warn`, unless a warning already explains the failure (the generic one would only repeat it)."""
    if not _WARNINGS.get():
        warn(message)


@contextmanager
def collecting_warnings() -> Iterator[list[str]]:
    """Collect the warnings of the evaluations inside the block (nested evaluations included)."""
    collected: list[str] = []
    token = _WARNINGS.set(collected)
    try:
        yield collected
    finally:
        _WARNINGS.reset(token)
