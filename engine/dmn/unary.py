"""FEEL unary tests, as decision-table input entries use them.

    matches("< 5, [10..20], \"x\"", value, variables)

A test list is split at its top-level commas; each positive test is one of: a comparison with
the input as its implicit left side (`< e`, `>= e`, `!= e`), an interval (`[a..b]`, `(a..b]`,
`]a..b[`), `null`, or an expression: true when it contains `?` and evaluates to true with `?`
bound to the input, when its value is a list holding the input, or when it equals the input.
`-` matches everything, `not(tests)` negates. Each test becomes a FEEL expression over the
input bound to a reserved name, compiled once by engine.expressions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from engine.expressions import EvaluationError, ExpressionError, compile_feel
from engine.expressions.feel_operators import in_range
from engine.expressions.feel_temporal import equal as temporal_equal
from engine.expressions.feel_temporal import is_temporal
from engine.expressions.values import FeelRange

from .errors import DecisionError

INPUT = "dmn_input_value_"  # the name `?` and the implicit left side are bound to

Test = Callable[[Any, Mapping[str, Any]], bool]
_OPENERS, _CLOSERS = "([{", ")]}"


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split at separators outside strings and brackets (an interval's `]a..b[` included)."""
    parts, depth, start, index, quoted = [], 0, 0, 0, False
    while index < len(text):
        char = text[index]
        if quoted:
            if char == "\\":
                index += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in _OPENERS:
            depth += 1
        elif char in _CLOSERS:
            depth -= 1
        elif text.startswith(separator, index) and depth <= 0:
            parts.append(text[start:index].strip())
            start = index + len(separator)
            index = start
            continue
        index += 1
    parts.append(text[start:].strip())
    return parts


def _replace_question_mark(text: str) -> tuple[str, bool]:
    out, quoted, used = [], False, False
    for index, char in enumerate(text):
        if char == '"' and (index == 0 or text[index - 1] != "\\"):
            quoted = not quoted
        if char == "?" and not quoted:
            out.append(f" {INPUT} ")
            used = True
        else:
            out.append(char)
    return "".join(out), used


def feel_equal(left: Any, right: Any) -> bool:
    """FEEL `=` for plain values: numbers by value (never booleans), lists and contexts deeply."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right or abs(left - right) <= 1e-12 * max(abs(left), abs(right))
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(feel_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(feel_equal(left[k], right[k]) for k in left)
    if is_temporal(left) or is_temporal(right):
        return temporal_equal(left, right)
    return type(left) is type(right) and left == right


def _compile(text: str) -> Any:
    try:
        return compile_feel(text, user_functions=True)
    except ExpressionError as exc:
        raise DecisionError(f"cannot compile {text!r}: {exc}", unsupported=True) from None


def _bool_test(feel: str) -> Test:
    expression = _compile(feel)

    def test(value: Any, variables: Mapping[str, Any]) -> bool:
        try:
            return expression.evaluate({**variables, INPUT: value}, feel_values=True) is True
        except EvaluationError:
            return False  # FEEL: a comparison of mismatched types is null, which does not match

    return test


def _interval(text: str) -> Test | None:
    if len(text) < 5 or text[0] not in "[(]" or text[-1] not in "])[":
        return None
    bounds = split_top_level(text[1:-1], "..")
    if len(bounds) != 2:
        return None
    low_op = ">=" if text[0] == "[" else ">"
    high_op = "<=" if text[-1] == "]" else "<"
    return _bool_test(f"{INPUT} {low_op} ({bounds[0]}) and {INPUT} {high_op} ({bounds[1]})")


def _expression_test(text: str) -> Test:
    feel, uses_input = _replace_question_mark(text)
    expression = _compile(feel)

    def test(value: Any, variables: Mapping[str, Any]) -> bool:
        try:
            result = expression.evaluate({**variables, INPUT: value}, feel_values=True)
        except EvaluationError:
            return False
        if uses_input:
            return result is True
        if isinstance(result, FeelRange):  # range("[1..5]"), or any expression giving a range
            try:
                return bool(in_range(value, result))
            except TypeError:
                return False
        if isinstance(result, list) and not isinstance(value, list):
            return any(feel_equal(value, item) for item in result)
        if result is True and not isinstance(value, bool):
            return True  # DMN 1.5: a boolean expression that holds
        return feel_equal(value, result)

    return test


def _positive(text: str) -> Test:
    for op in ("<=", ">=", "!=", "<", ">", "="):
        if text.startswith(op):
            return _bool_test(f"{INPUT} {op} ({text[len(op) :]})")
    interval = _interval(text)
    if interval is not None:
        return interval
    if text == "null":
        return lambda value, variables: value is None
    return _expression_test(text)


@functools.lru_cache(maxsize=4096)
def compile_tests(text: str) -> Test:
    """The test an input entry's text stands for; raises DecisionError when it cannot compile."""
    text = text.strip()
    if text in ("", "-"):
        return lambda value, variables: True
    if text.startswith("not(") and text.endswith(")") and len(split_top_level(text)) == 1:
        inner = compile_tests(text[4:-1])
        return lambda value, variables: not inner(value, variables)
    tests = [_positive(part) for part in split_top_level(text)]
    if len(tests) == 1:
        return tests[0]
    return lambda value, variables: any(test(value, variables) for test in tests)


def matches(text: str, value: Any, variables: Mapping[str, Any]) -> bool:
    return compile_tests(text)(value, variables)
