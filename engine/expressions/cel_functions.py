"""Value semantics shared by both dialects, and the CEL dialect's function table.

CEL programs run with standard CEL semantics plus the cross-type numeric comparisons and
heterogeneous equality of the current CEL specification (celpy 0.5 raises "no such overload"
for `1 < 1.5` and `x != null`); arithmetic stays strict, as CEL defines it, but fails with a
readable message. The equality and ordering helpers here are also what FEEL's operators use.

Table functions must be module-level: celpy's generated code calls them as module.qualname.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from celpy import celtypes
from celpy.evaluation import CELEvalError

import engine.expressions.feel_temporal as feel_temporal

from .values import FeelDecimal, to_decimal

Function = Callable[..., Any]


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, celtypes.BoolType | bool)


def _comparable_kind(value: Any) -> str:
    if is_number(value):
        return "number"
    for kind, types in _ORDERED_KINDS:
        if isinstance(value, types):
            return kind
    return type(value).__name__


_ORDERED_KINDS: tuple[tuple[str, Any], ...] = (
    ("bool", celtypes.BoolType | bool),
    ("string", str),
    ("bytes", bytes),
    ("timestamp", celtypes.TimestampType),
    ("duration", celtypes.DurationType),
)


def cel_equal(a: Any, b: Any) -> bool:
    """Equality across types is false; numbers compare by value; lists and maps deeply."""
    if a is None or b is None:
        return a is None and b is None
    if is_number(a) and is_number(b):
        if type(a) is FeelDecimal or type(b) is FeelDecimal:  # FEEL decimals: exactly, 0.1 + 0.2 = 0.3
            return to_decimal(a) == to_decimal(b)
        return _plain_number(a) == _plain_number(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(cel_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(cel_equal(a[k], b[k]) for k in a)
    if feel_temporal.is_temporal(a) or feel_temporal.is_temporal(b):
        return feel_temporal.equal(a, b)
    kind_a = _comparable_kind(a)
    if kind_a != _comparable_kind(b):
        return False
    return bool(a == b)


def ordered(a: Any, b: Any, operator: str) -> tuple[Any, Any]:
    """The operands as values Python can order, or TypeError when CEL cannot order them."""
    if feel_temporal.is_temporal(a) or feel_temporal.is_temporal(b):
        return feel_temporal.compare(a, b), 0  # FEEL's temporal values order by their own rules
    kind = _comparable_kind(a)
    if kind != _comparable_kind(b) or kind not in (
        "number",
        "bool",
        "string",
        "bytes",
        "timestamp",
        "duration",
    ):
        raise TypeError(f"cannot compare {describe_type(a)} with {describe_type(b)} using {operator!r}")
    if kind == "number":  # plain ints and floats compare exactly with each other; celpy's types do not
        if type(a) is FeelDecimal or type(b) is FeelDecimal:
            return to_decimal(a), to_decimal(b)
        return _plain_number(a), _plain_number(b)
    return a, b


def _plain_number(value: Any) -> int | float:
    return float(value) if isinstance(value, float) else int(value)


def describe_type(value: Any) -> str:
    if value is None:
        return "null"
    kind = _comparable_kind(value)
    if kind in ("number", "bool", "string", "timestamp", "duration", "bytes"):
        return {"bool": "boolean", "timestamp": "date-time"}.get(kind, kind)
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "context"
    if feel_temporal.is_temporal(value):
        return feel_temporal.kind_name(value)
    return kind


def _error_in(*values: Any) -> CELEvalError | None:
    for value in values:
        if isinstance(value, CELEvalError):
            return value
    return None


def cel_eq(a: Any, b: Any) -> Any:
    return _error_in(a, b) or celtypes.BoolType(cel_equal(a, b))


def cel_ne(a: Any, b: Any) -> Any:
    return _error_in(a, b) or celtypes.BoolType(not cel_equal(a, b))


def cel_lt(a: Any, b: Any) -> Any:
    if error := _error_in(a, b):
        return error
    x, y = ordered(a, b, "<")
    return celtypes.BoolType(x < y)


def cel_le(a: Any, b: Any) -> Any:
    if error := _error_in(a, b):
        return error
    x, y = ordered(a, b, "<=")
    return celtypes.BoolType(x <= y)


def cel_gt(a: Any, b: Any) -> Any:
    if error := _error_in(a, b):
        return error
    x, y = ordered(a, b, ">")
    return celtypes.BoolType(x > y)


def cel_ge(a: Any, b: Any) -> Any:
    if error := _error_in(a, b):
        return error
    x, y = ordered(a, b, ">=")
    return celtypes.BoolType(x >= y)


def cel_type_name(value: Any) -> str:
    if value is None:
        return "null"
    for name, types in _CEL_TYPE_NAMES:
        if isinstance(value, types):
            return name
    return type(value).__name__


_CEL_TYPE_NAMES: tuple[tuple[str, Any], ...] = (
    ("bool", celtypes.BoolType | bool),
    ("uint", celtypes.UintType),
    ("int", int),
    ("double", float),
    ("string", str),
    ("bytes", bytes),
    ("timestamp", celtypes.TimestampType),
    ("duration", celtypes.DurationType),
    ("list", list),
    ("map", Mapping),
)


def _arithmetic(symbol: str, operation: Function, a: Any, b: Any) -> Any:
    # celpy's own operators, with its Python-level TypeErrors turned into CEL's wording.
    if error := _error_in(a, b):
        return error
    try:
        return operation(a, b)
    except TypeError:
        hint = " (CEL does not mix int and double: convert with double() or int())"
        mixed = {cel_type_name(a), cel_type_name(b)} in (
            {"int", "double"},
            {"uint", "double"},
            {"int", "uint"},
        )
        message = f"no such overload: {cel_type_name(a)} {symbol} {cel_type_name(b)}"
        raise TypeError(message + (hint if mixed else "")) from None


def cel_add(a: Any, b: Any) -> Any:
    return _arithmetic("+", operator.add, a, b)


def cel_subtract(a: Any, b: Any) -> Any:
    return _arithmetic("-", operator.sub, a, b)


def cel_multiply(a: Any, b: Any) -> Any:
    return _arithmetic("*", operator.mul, a, b)


def cel_divide(a: Any, b: Any) -> Any:
    return _arithmetic("/", operator.truediv, a, b)


def cel_modulo(a: Any, b: Any) -> Any:
    return _arithmetic("%", operator.mod, a, b)


CEL_FUNCTIONS: dict[str, Function] = {
    "_+_": cel_add,
    "_-_": cel_subtract,
    "_*_": cel_multiply,
    "_/_": cel_divide,
    "_%_": cel_modulo,
    "_==_": cel_eq,
    "_!=_": cel_ne,
    "_<_": cel_lt,
    "_<=_": cel_le,
    "_>_": cel_gt,
    "_>=_": cel_ge,
}
