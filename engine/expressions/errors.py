"""The two ways an expression can fail: when it is compiled, and when it is evaluated.

They are separate classes because they happen at different times and lead to different outcomes:
an `ExpressionError` rejects a deployment (the file is wrong), an `EvaluationError` raises an
incident on one running instance (the data is wrong).
"""

from __future__ import annotations


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
    """Run time: a type error, a condition that is not a boolean, a missing clock, ...

    `source` is the expression as written, when known, so an incident can show it.
    """

    def __init__(self, message: str, source: str | None = None) -> None:
        self.message = message
        self.source = source
        super().__init__(f"{message} (evaluating {source!r})" if source is not None else message)
