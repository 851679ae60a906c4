"""The one place where plain Python values and celpy values are converted into each other.

Process variables are JSON (dict/list/str/int/float/bool/None). celpy computes with its own
wrapper types (IntType, StringType, MapType, ...). Everything that enters an evaluation goes
through `to_cel`, everything that leaves it goes through `to_plain`, so the rest of the engine
never sees a celpy type:

- ints stay ints, floats (and Decimals) become floats, bools stay bools;
- JSON objects become dicts with string keys, lists stay lists;
- date-times and durations leave as ISO 8601 strings ("2024-05-01T10:00:00Z", "P3D"),
  since variables must stay JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from celpy import celtypes

import engine.expressions.feel_temporal as feel_temporal

from .errors import EvaluationError
from .temporal import format_datetime, format_duration

CelValue = Any  # a celpy value: celtypes.* or None

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def to_cel(value: Any) -> CelValue:
    """A plain (JSON-like) Python value as a celpy value."""
    kind = type(value)
    # Exact-type fast paths first: this runs for every bound variable on every evaluation.
    if kind is str:
        return cel_str(value)
    if kind is bool:
        return TRUE if value else FALSE
    if kind is int:
        return _int(value)
    if value is None:
        return None
    if kind is float:
        return cel_double(value)
    if kind is dict:
        return celtypes.MapType({celtypes.StringType(str(k)): to_cel(v) for k, v in value.items()})
    if kind is list or kind is tuple:
        return celtypes.ListType([to_cel(v) for v in value])
    return _to_cel_other(value)


class FeelFunction:
    """A function a FEEL expression may call by name (a DMN business knowledge model, a decision service).

    `call` takes and returns plain Python values; `parameters` are the names in order, so
    named arguments can be placed. It passes through to_cel and to_plain unchanged.
    """

    __slots__ = ("call", "name", "parameters")

    def __init__(self, name: str, parameters: tuple[str, ...], call: Any) -> None:
        self.name = name
        self.parameters = parameters
        self.call = call

    def __repr__(self) -> str:
        return f"FeelFunction({self.name}({', '.join(self.parameters)}))"


class FeelRange:
    """A FEEL range value ([1..5], (a..b]): what `in` tests against and `instance of range` sees."""

    __slots__ = ("closed_high", "closed_low", "high", "low")

    def __init__(self, low: Any, high: Any, closed_low: bool, closed_high: bool) -> None:
        self.low, self.high, self.closed_low, self.closed_high = low, high, closed_low, closed_high

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FeelRange) and (self.low, self.high, self.closed_low, self.closed_high) == (
            other.low,
            other.high,
            other.closed_low,
            other.closed_high,
        )

    def __hash__(self) -> int:
        return hash((FeelRange, self.closed_low, self.closed_high))

    def __repr__(self) -> str:
        return f"{'[' if self.closed_low else '('}{self.low!r}..{self.high!r}{']' if self.closed_high else ')'}"


def _to_cel_other(value: Any) -> CelValue:
    # celpy values (e.g. results of an earlier evaluation) pass through unchanged. BoolType
    # subclasses int, so this must be checked before the generic int/float cases below.
    if isinstance(value, celtypes.BoolType | celtypes.IntType | celtypes.UintType | celtypes.DoubleType):
        return value
    if isinstance(value, celtypes.StringType | celtypes.TimestampType | celtypes.DurationType):
        return value
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        return _int(value)
    if isinstance(value, float | Decimal):
        return celtypes.DoubleType(float(value))
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, dt.datetime):
        return celtypes.TimestampType(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    if isinstance(value, dt.date):
        return celtypes.StringType(value.isoformat())
    if isinstance(value, dt.timedelta):
        return celtypes.DurationType(value)
    if isinstance(value, Mapping):
        return celtypes.MapType({celtypes.StringType(str(k)): to_cel(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return celtypes.ListType([to_cel(v) for v in value])
    if isinstance(value, FeelFunction | FeelRange) or feel_temporal.is_temporal(value):
        return value
    raise EvaluationError(f"a variable of type {type(value).__name__} cannot be used in an expression")


def _int(value: int) -> CelValue:
    result = cel_int(value)
    if result is None:
        raise EvaluationError(f"integer {value} does not fit in 64 bits")
    return result


# Constructors for the hot path. celtypes' own constructors accept any source type and check
# for each; IntType's even wraps a function with functools.wraps on every call (~15 µs, more
# than a whole comparison). For a value already of the right Python type they reduce to these.

TRUE, FALSE = celtypes.BoolType(True), celtypes.BoolType(False)


def cel_int(value: int) -> Any:
    """celtypes.IntType(value) for an int, or None if it does not fit in 64 bits."""
    if _INT64_MIN <= value <= _INT64_MAX:
        return int.__new__(celtypes.IntType, value)
    return None


def cel_str(value: str) -> Any:
    return str.__new__(celtypes.StringType, value)


def cel_double(value: float) -> Any:
    return float.__new__(celtypes.DoubleType, value)


# FEEL numbers are decimals (DMN 1.5 §10.3.2.3: IEEE 754-2008 Decimal128, 34 digits, round half even), so
# 0.1 + 0.2 = 0.3. Ints compute as ints; as soon as a fraction is involved the operators compute in this
# context and give a FeelDecimal: a double to everything that reads floats, plus its exact value.
# No traps: an overflow gives Infinity, which from_decimal refuses with a readable TypeError.
DECIMAL128 = Context(prec=34, rounding=ROUND_HALF_EVEN, Emin=-6143, Emax=6144, traps=[])


class FeelDecimal(celtypes.DoubleType):
    """A FEEL number with a fraction: its nearest double (what celpy and the builtins see) and `exact`."""

    __slots__ = ("exact",)

    def __new__(cls, exact: Decimal) -> FeelDecimal:
        obj = float.__new__(cls, float(exact))
        obj.exact = exact
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (FeelDecimal, (self.exact,))

    def __repr__(self) -> str:
        return f"FeelDecimal({self.exact})"


_DECIMAL_OF: dict[float, Decimal] = {}  # doubles seen (mostly literals such as 1.2): repr() costs most of an add


def to_decimal(value: int | float) -> Decimal:
    """A FEEL number as its exact decimal: a double by its shortest repr (the literal 0.1 is 0.1, not 0.1000…5)."""
    if type(value) is FeelDecimal:
        return value.exact  # type: ignore[attr-defined]
    if isinstance(value, float):
        found = _DECIMAL_OF.get(value)
        if found is None:
            if len(_DECIMAL_OF) > 4096:
                _DECIMAL_OF.clear()
            found = _DECIMAL_OF[value] = Decimal(repr(float(value)))
        return found
    return Decimal(int(value))


def from_decimal(value: Decimal) -> Any:
    """A decimal result as a celpy number: an integer value as an int (so 1.5 * 2 stores 3), else a FeelDecimal."""
    if not value.is_finite():
        raise TypeError("the result is not a finite number")
    if value == value.to_integral_value():
        as_int = cel_int(int(value))
        if as_int is not None:
            return as_int
    return FeelDecimal(value)


def to_plain(value: CelValue) -> Any:
    """A celpy value as plain, JSON-able Python."""
    if value is None:
        return None
    # BoolType subclasses int: test it before ints.
    if isinstance(value, celtypes.BoolType | bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        plain = float(value)
        if plain - plain != 0:  # inf or nan: a decimal beyond a double's range (10 ** 400) has no JSON form
            raise EvaluationError("the result is a number beyond a double's range (1.8e308): a variable cannot hold it")
        return plain
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {_key(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.timedelta):
        return format_duration(value)
    if isinstance(value, FeelFunction | FeelRange) or feel_temporal.is_temporal(value):
        return value  # as_json() writes temporal values as text where JSON is needed
    raise EvaluationError(f"the result is a {type(value).__name__}, which cannot be stored as a variable")


_SCALARS = (str, int, float, bool, type(None))


def as_json(value: Any, *, strict: bool = True) -> Any:
    """A plain value with FEEL temporal values written as their ISO 8601 text (variables are JSON).

    A function or a range has no JSON form: EvaluationError, or null when not strict (DMN,
    whose decisions may compute a library of functions along the way).
    """
    if type(value) in _SCALARS:
        return value
    if isinstance(value, dict):
        return {key: as_json(item, strict=strict) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item, strict=strict) for item in value]
    if feel_temporal.is_temporal(value):
        return str(value)
    if isinstance(value, FeelFunction | FeelRange) and not strict:
        return None
    if isinstance(value, FeelFunction | FeelRange):
        kind = "function" if isinstance(value, FeelFunction) else "range"
        raise EvaluationError(f"the result holds a {kind}, which cannot be stored as a variable")
    return value


def _key(key: Any) -> str:
    # CEL maps may have int or bool keys; JSON objects only have string keys.
    if isinstance(key, celtypes.BoolType | bool):
        return "true" if key else "false"
    return str(key)


def copy_plain(value: Any) -> Any:
    """A structural copy of a plain value, so a result never aliases a variable or a cached constant."""
    if isinstance(value, dict):
        return {k: copy_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_plain(v) for v in value]
    return value


def format_number(value: int | float) -> str:
    """A number as FEEL's string() writes it: 3, 1.5, 1.0, 100000000000000000000 (never an exponent)."""
    if isinstance(value, int):
        return str(int(value))
    if type(value) is FeelDecimal:
        return format(value.exact.normalize(DECIMAL128), "f")  # type: ignore[attr-defined]
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text
