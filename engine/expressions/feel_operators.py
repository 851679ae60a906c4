"""FEEL's operators, paths, indexes and iteration, as celpy custom functions.

A FEEL expression is translated to CEL text (see feel.py), but it must compute the way FEEL
does, which standard CEL does not: FEEL has one number type (1 + 1.5 works, 7 / 2 is 3.5),
null flows through operators (null + 1 is null, `x = null` is true for a missing x), `=` is
deep equality across all types, `a.b` on a missing entry is null, and lists are indexed from 1.
So a FEEL program runs with a function table (feel_builtins.FEEL_FUNCTIONS) that replaces
CEL's operators ("_+_", "_==_", ...) with the functions here and adds the helpers the
translator emits (feel_get, feel_index, ...).

Error policy (FEEL, and Camunda 8 since feel-scala 1.17): null operands give null, and so does
an operation that fails (operands of the wrong type, division by zero, a bad argument to a
built-in): the operation is null and the evaluation goes on. The function raises TypeError with
a readable message; its `builtin`/`binary` wrapper turns that into null and records the
message as a warning (errors.warn), which the place that needs a value of a given type (a
condition, a job type...) shows in its incident when the result is null (Expression.explain).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from celpy import celtypes
from celpy.evaluation import CELEvalError

import engine.expressions.feel_temporal as feel_temporal

from .cel_functions import cel_equal, describe_type, is_number, ordered
from .errors import warn
from .values import (
    DECIMAL128,
    FALSE,
    TRUE,
    FeelFunction,
    FeelRange,
    cel_double,
    cel_int,
    cel_str,
    from_decimal,
    to_decimal,
)

BoolType = celtypes.BoolType


def fail(message: str) -> TypeError:
    return TypeError(message)


# What a FEEL function or operator raises when it cannot compute: the call is then null (a warning).
# RecursionError and the like are not among them: they stop the evaluation.
FAILURES = (TypeError, ValueError, ArithmeticError, LookupError)


def failure_reason(error: BaseException) -> str:
    """The warning for a failed call: our own messages as they are, Python's made readable."""
    if isinstance(error, ZeroDivisionError):
        return "division by zero"
    if type(error) is TypeError and error.args and isinstance(error.args[0], str):
        return error.args[0]
    if isinstance(error, ArithmeticError):
        return "the result is not a number FEEL can represent"
    text = str(error.args[0]) if error.args else type(error).__name__
    return text[:300]


def builtin(function: Callable[..., Any]) -> Callable[..., Any]:
    """A FEEL function as celpy calls it: a failure is null plus a warning (FEEL, Camunda 8).

    celpy error values (from celpy's own code, e.g. a macro over null) pass through: the
    compiled code hands them to functions as arguments, and the expression is then null.
    """

    @functools.wraps(function)
    def call(*args: Any) -> Any:
        for arg in args:
            if isinstance(arg, CELEvalError):
                return arg
        try:
            return function(*args)
        except FAILURES as error:
            warn(failure_reason(error))
            return None

    call.null_on_failure = True  # type: ignore[attr-defined]
    return call


def binary(function: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`builtin` for operators, which always take two arguments and run most often."""

    @functools.wraps(function)
    def call(a: Any, b: Any) -> Any:
        if isinstance(a, CELEvalError):
            return a
        if isinstance(b, CELEvalError):
            return b
        try:
            return function(a, b)
        except FAILURES as error:
            warn(failure_reason(error))
            return None

    call.null_on_failure = True  # type: ignore[attr-defined]
    return call


def raising(function: Callable[..., Any]) -> Callable[..., Any]:
    """The function under a `builtin`/`binary` wrapper, for built-ins that call it and want its failure."""
    return getattr(function, "__wrapped__", function)


def number(value: int | float) -> Any:
    """A Python number as a celpy number: ints stay ints, anything else is a double.

    An integer beyond 64 bits is still a FEEL number: a decimal (34 digits, as DMN's Decimal128).
    """
    if isinstance(value, int):
        result = cel_int(value)
        if result is None:
            return from_decimal(DECIMAL128.plus(Decimal(value)))
        return result
    if math.isnan(value) or math.isinf(value):
        raise fail("the result is not a finite number")
    return cel_double(float(value))


def plain_number(value: Any) -> int | float:
    return float(value) if isinstance(value, float) else int(value)


def numbers(name: str, *values: Any) -> list[int | float]:
    if name.endswith("()"):  # a function's arguments convert from a singleton list; operands do not
        values = tuple(_single(value) for value in values)
    for value in values:
        if not is_number(value):
            raise fail(f"{name} expects numbers, got {describe_type(value)}")
    return [plain_number(v) for v in values]


def _single(value: Any) -> Any:
    """DMN's implicit conversion from a singleton list where one value is expected: ["a"] is "a"."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def string_arg(name: str, value: Any) -> str:
    value = _single(value)
    if not isinstance(value, str):
        raise fail(f"{name} expects a string, got {describe_type(value)}")
    return str(value)


def list_arg(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise fail(f"{name} expects a list, got {describe_type(value)}")
    return value


def is_timestamp(value: Any) -> bool:
    return isinstance(value, dt.datetime | feel_temporal.DateTime)


def is_duration(value: Any) -> bool:
    return isinstance(value, dt.timedelta | feel_temporal.DayTime | feel_temporal.YearMonth)


_TEMPORAL = (*feel_temporal.TEMPORAL, dt.date, dt.timedelta)


def is_temporal(value: Any) -> bool:
    """A FEEL temporal value, or a Python date/time/duration (the engine clock) that becomes one."""
    return isinstance(value, _TEMPORAL)


# --- operators ----------------------------------------------------------------------------------


@binary
def feel_add(a: Any, b: Any) -> Any:
    if isinstance(a, str) and isinstance(b, str):  # first: long concatenations are common
        return cel_str(a + b)
    if a is None or b is None:
        return None
    if is_number(a) and is_number(b):
        if isinstance(a, int) and isinstance(b, int):
            return number(int(a) + int(b))
        return from_decimal(DECIMAL128.add(to_decimal(a), to_decimal(b)))
    if is_temporal(a) or is_temporal(b):
        return feel_temporal.add(a, b)
    hint = " (convert with string())" if isinstance(a, str) or isinstance(b, str) else ""
    raise fail(f"cannot add {describe_type(a)} and {describe_type(b)}{hint}")


@binary
def feel_subtract(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if is_number(a) and is_number(b):
        if isinstance(a, int) and isinstance(b, int):
            return number(int(a) - int(b))
        return from_decimal(DECIMAL128.subtract(to_decimal(a), to_decimal(b)))
    if is_temporal(a) or is_temporal(b):
        return feel_temporal.subtract(a, b)
    raise fail(f"cannot subtract {describe_type(b)} from {describe_type(a)}")


@binary
def feel_multiply(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if is_number(a) and is_number(b):
        if isinstance(a, int) and isinstance(b, int):
            return number(int(a) * int(b))
        return from_decimal(DECIMAL128.multiply(to_decimal(a), to_decimal(b)))
    if is_temporal(a) or is_temporal(b):
        return number(result) if is_number(result := feel_temporal.multiply(a, b)) else result
    raise fail(f"cannot multiply {describe_type(a)} by {describe_type(b)}")


@binary
def feel_divide(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if is_temporal(a) or is_temporal(b):
        return number(result) if is_number(result := feel_temporal.divide(a, b)) else result
    x, y = numbers("'/'", a, b)
    if y == 0:
        raise fail("division by zero")
    # FEEL has decimals, not integers: 7 / 2 is 3.5, 1 / 3 has 34 digits. An exact quotient of integers is an int.
    if isinstance(x, int) and isinstance(y, int) and x % y == 0:
        return number(x // y)
    return from_decimal(DECIMAL128.divide(to_decimal(a), to_decimal(b)))


@binary
def feel_power(a: Any, b: Any) -> Any:
    """`**` in decimal (34 digits): 2 ** -1 is 0.5, 2 ** 0.5 is sqrt(2); no real result is null."""
    if a is None or b is None:
        return None
    x, y = numbers("'**'", a, b)
    if isinstance(x, int) and isinstance(y, int) and 0 <= y <= 64:
        return number(x**y)
    result = DECIMAL128.power(to_decimal(a), to_decimal(b))
    return from_decimal(result) if result.is_finite() else None  # (-8) ** 0.5, 0 ** -1, overflow


@builtin
def feel_negate(a: Any) -> Any:
    if a is None:
        return None
    if is_number(a):
        return number(-plain_number(a)) if isinstance(a, int) else from_decimal(-to_decimal(a))
    if is_temporal(a):
        return feel_temporal.negate(a)
    raise fail(f"cannot negate {describe_type(a)}")


@builtin
def feel_not(a: Any) -> Any:
    if a is None:
        return None
    if isinstance(a, BoolType):
        return FALSE if a else TRUE
    raise fail(f"not() expects a boolean, got {describe_type(a)}")


def _is_false(value: Any) -> bool:
    return isinstance(value, BoolType) and not value


def _is_true(value: Any) -> bool:
    return isinstance(value, BoolType) and bool(value)


def feel_and(a: Any, b: Any) -> Any:
    """Three-valued: false wins over null and errors; null with true gives null."""
    if _is_false(a) or _is_false(b):
        return FALSE
    if _is_true(a) and _is_true(b):
        return TRUE
    return _undecided(a, b, "and")


def feel_or(a: Any, b: Any) -> Any:
    """Three-valued: true wins over null and errors; null with false gives null."""
    if _is_true(a) or _is_true(b):
        return TRUE
    if _is_false(a) and _is_false(b):
        return FALSE
    return _undecided(a, b, "or")


def _undecided(a: Any, b: Any, operator: str) -> CELEvalError | None:
    # Neither operand decided the result: an error operand is the result, else null (FEEL); a
    # non-boolean operand is null too, with a warning that says so.
    for value in (a, b):
        if isinstance(value, CELEvalError):
            return value
    for value in (a, b):
        if value is not None and not isinstance(value, BoolType):
            warn(f"'{operator}' expects booleans, got {describe_type(value)}")
    return None


@binary
def feel_eq(a: Any, b: Any) -> Any:
    return TRUE if cel_equal(a, b) else FALSE


@binary
def feel_ne(a: Any, b: Any) -> Any:
    return FALSE if cel_equal(a, b) else TRUE


@binary
def feel_lt(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    x, y = ordered(a, b, "<")
    return TRUE if x < y else FALSE


@binary
def feel_le(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    x, y = ordered(a, b, "<=")
    return TRUE if x <= y else FALSE


@binary
def feel_gt(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    x, y = ordered(a, b, ">")
    return TRUE if x > y else FALSE


@binary
def feel_ge(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    x, y = ordered(a, b, ">=")
    return TRUE if x >= y else FALSE


@builtin
def feel_between(value: Any, low: Any, high: Any) -> Any:
    if value is None or low is None or high is None:
        return None
    low_value, x = ordered(low, value, "between")
    y, high_value = ordered(value, high, "between")
    return TRUE if low_value <= x and y <= high_value else FALSE


@binary
def feel_in(value: Any, container: Any) -> Any:
    """`x in [1, 2]` is membership, `x in [1..5]` a range test; `x in y` otherwise is equality."""
    if isinstance(container, FeelRange):
        return in_range(value, container)
    if isinstance(container, list):
        return TRUE if any(in_range(value, item) if isinstance(item, FeelRange) else cel_equal(value, item)
                           for item in container) else FALSE
    return TRUE if cel_equal(value, container) else FALSE


def in_range(value: Any, bounds: FeelRange) -> Any:
    if value is None:
        return None
    if bounds.low is not None:
        low, x = ordered(bounds.low, value, "in")
        if not (low <= x if bounds.closed_low else low < x):
            return FALSE
    if bounds.high is not None:
        x, high = ordered(value, bounds.high, "in")
        if not (x <= high if bounds.closed_high else x < high):
            return FALSE
    return TRUE


@builtin
def feel_range(low: Any, high: Any, closed_low: Any, closed_high: Any) -> Any:
    if low is None and high is None:
        raise fail("a range needs at least one bound")
    if low is not None and high is not None:
        ordered(low, high, "..")  # both ends of one kind
    return FeelRange(low, high, bool(closed_low), bool(closed_high))


_SIMPLE_TYPES: dict[str, Callable[[Any], bool]] = {
    "number": is_number,
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, BoolType | bool),
    "date": lambda v: isinstance(v, feel_temporal.Date),
    "time": lambda v: isinstance(v, feel_temporal.Time),
    "date and time": lambda v: isinstance(v, feel_temporal.DateTime),
    "days and time duration": lambda v: isinstance(v, feel_temporal.DayTime),
    "years and months duration": lambda v: isinstance(v, feel_temporal.YearMonth),
    "list": lambda v: isinstance(v, list),
    "context": lambda v: isinstance(v, Mapping),
    "function": lambda v: isinstance(v, FeelFunction),
    "range": lambda v: isinstance(v, FeelRange),
    "Any": lambda v: v is not None,
    "Null": lambda v: v is None,
}


def instance_of(value: Any, type_name: str) -> bool:
    """`value instance of type_name`, DMN 1.5 10.3.2.9 (names as the parser normalises them)."""
    if type_name in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[type_name](value)
    base, _, parameters = type_name.partition("<")
    if base == "list" and parameters:
        inner = parameters[: parameters.rindex(">")]
        return isinstance(value, list) and all(instance_of(item, inner) for item in value)
    if base == "range" and parameters:
        inner = parameters[: parameters.rindex(">")]
        bound = value.low if isinstance(value, FeelRange) and value.low is not None else getattr(value, "high", None)
        return isinstance(value, FeelRange) and instance_of(bound, inner)
    if base == "context" and parameters:
        if not isinstance(value, Mapping):
            return False
        entries = _split_entries(parameters[: parameters.rindex(">")])
        return all(key in value and instance_of(value[key], kind) for key, kind in entries)
    if base == "function":
        return isinstance(value, FeelFunction)
    return False  # a type this engine does not know (an item definition): no value is one


def _split_entries(text: str) -> list[tuple[str, str]]:
    entries, depth, start = [], 0, 0
    for index, char in enumerate(text + ","):
        depth += {"<": 1, ">": -1}.get(char, 0)
        if char == "," and depth == 0:
            key, _, kind = text[start:index].partition(":")
            entries.append((key.strip(), kind.strip()))
            start = index + 1
    return entries


def feel_instance_of(value: Any, type_name: Any) -> Any:
    if isinstance(value, CELEvalError):
        return value
    return TRUE if instance_of(value, str(type_name)) else FALSE


# --- paths, indexes, iteration ------------------------------------------------------------------

def _member(value: Any, key: str) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        # A missing context entry is null in FEEL. dict.get skips MapType.get, which raises.
        return dict.get(value, key)
    if isinstance(value, list):  # FEEL projection: [{a: 1}, {a: 2}].a is [1, 2]
        return celtypes.ListType([_member(item, key) for item in value])
    if is_temporal(value):
        result = feel_temporal.member(value, key)
        return number(result) if is_number(result) else cel_str(result) if isinstance(result, str) else result
    raise fail(f"cannot read {str(key)!r} of {describe_type(value)}")


def feel_member_or(item: Any, key: Any, outer: Any) -> Any:
    """A name inside a filter without `item`: the element's entry of that name, else the variable."""
    if isinstance(item, Mapping) and key in item:
        return dict.get(item, key)
    return outer


@builtin
def feel_get(value: Any, *keys: Any) -> Any:
    """`a.b.c`: null-safe path navigation (a missing entry or a null on the way gives null)."""
    for key in keys:
        value = _member(value, key)
    return value


@builtin
def feel_index(value: Any, index: Any) -> Any:
    """`list[i]`: 1-based, negative counts from the end, out of range is null."""
    if value is None or index is None:
        return None
    if not is_number(index) or plain_number(index) != int(index):
        raise fail(f"a list index must be a whole number, got {describe_type(index)}")
    items = value if isinstance(value, list) else [value]  # FEEL: a single value is a list of one
    position = int(index)
    if position > 0 and position <= len(items):
        return items[position - 1]
    if position < 0 and -position <= len(items):
        return items[position]
    return None


@builtin
def feel_as_list(value: Any) -> Any:
    if isinstance(value, list):
        return value
    if value is None:
        raise fail("cannot iterate over null (is the variable set?)")
    return celtypes.ListType([value])


@builtin
def feel_flatten1(value: Any) -> Any:
    return celtypes.ListType([item for inner in value for item in inner])


def feel_is_defined(defined: Any, name: Any, value: Any, *keys: Any) -> Any:
    """`is defined(x.a.b)`: x is a variable that exists and each entry on the path exists.

    `defined` is the set of root variables present in this evaluation (null for a local
    iteration variable, which always exists); the value itself may be null.
    """
    if defined is not None and name not in defined:
        return FALSE
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return FALSE
        value = value[key]
    return TRUE


# CEL's operators as FEEL computes them, and the helpers the translator emits.
OPERATORS: dict[str, Callable[..., Any]] = {
    "feel_member_or": feel_member_or,
    "_+_": feel_add,
    "_-_": feel_subtract,
    "_*_": feel_multiply,
    "_/_": feel_divide,
    "-_": feel_negate,
    "!_": feel_not,
    "_&&_": feel_and,
    "_||_": feel_or,
    "_==_": feel_eq,
    "_!=_": feel_ne,
    "_<_": feel_lt,
    "_<=_": feel_le,
    "_>_": feel_gt,
    "_>=_": feel_ge,
    **{
        helper.__name__: helper
        for helper in (
            feel_power,
            feel_between,
            feel_in,
            feel_get,
            feel_index,
            feel_as_list,
            feel_flatten1,
            feel_range,
            feel_instance_of,
        )
    },
    "feel_is_defined": feel_is_defined,
}
