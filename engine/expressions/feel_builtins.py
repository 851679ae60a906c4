"""FEEL's built-in functions (string(), contains(), count(), ...), as celpy custom functions.

`BUILTINS` is what the translator may call, by FEEL name, with the arguments each accepts;
`FEEL_FUNCTIONS` is the whole celpy function table of a FEEL program (operators included).
Functions follow FEEL: a null argument gives null; an argument of the wrong type raises
TypeError with a message naming the function (see feel_operators for why).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
)
from typing import Any

from celpy import celtypes

import engine.expressions.feel_regex as feel_regex
import engine.expressions.feel_temporal as feel_temporal

from .cel_functions import cel_equal, describe_type, is_number, ordered
from .feel_operators import (
    FALSE,
    OPERATORS,
    TRUE,
    BoolType,
    builtin,
    fail,
    feel_and,
    feel_divide,
    feel_or,
    is_temporal,
    list_arg,
    number,
    numbers,
    plain_number,
    raising,
    string_arg,
)
from .feel_ranges import RANGE_FUNCTIONS, RANGE_PARAMETERS, feel_range_of
from .values import DECIMAL128, FeelDecimal, FeelFunction, format_number, from_decimal, to_cel, to_decimal, to_plain

# --- conversion ---------------------------------------------------------------------------------


def feel_text(value: Any) -> str:
    """FEEL's string() of a celpy value."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, BoolType | bool):
        return "true" if value else "false"
    if is_number(value):
        return format_number(value if type(value) is FeelDecimal else plain_number(value))
    if value is None:
        return "null"
    if is_temporal(value):
        return str(feel_temporal.from_python(value))
    if isinstance(value, list):
        return "[" + ", ".join(_quoted(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key_text(key)}: {_quoted(item)}" for key, item in value.items()) + "}"
    raise fail(f"string() cannot convert {describe_type(value)}")


def _key_text(key: Any) -> str:
    """A context key as FEEL writes it: bare when it is a plain name, else a string literal."""
    text = str(key)
    if text and all(char.isalnum() or char in "_ " for char in text) and not text[0].isdigit():
        return text
    return _quoted(text)


def _quoted(value: Any) -> str:
    if isinstance(value, str):
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return feel_text(value)


@builtin
def feel_string(value: Any) -> Any:
    return None if value is None else celtypes.StringType(feel_text(value))


_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


@builtin
def feel_number(value: Any, grouping: Any = None, decimal: Any = None) -> Any:
    """number("12") is 12, number("1.5") is 1.5; text that is not a number gives null.

    number("1 000,5", " ", ",") names the grouping separator (space, comma, period or null)
    and the decimal separator (period or comma, not the grouping one).
    """
    if value is None or is_number(value):
        return value
    text = string_arg("number()", value).strip()
    if grouping is not None or decimal is not None:
        if grouping not in (None, " ", ",", ".") or decimal not in (None, ".", ","):
            return None  # DMN 1.5: the grouping separator is one of space , . and the decimal one . or ,
        if grouping is not None and grouping == decimal:
            return None
        if grouping is not None:
            text = text.replace(str(grouping), "")
        if decimal is not None:
            text = text.replace(str(decimal), ".")
    if _NUMBER_TEXT.fullmatch(text) is None:
        return None
    return _result(DECIMAL128.create_decimal(text))  # "0.1" is the decimal 0.1, 34 digits at most


@builtin
def feel_get_or_else(value: Any, default: Any) -> Any:
    return default if value is None else value


@builtin
def feel_get_value(context: Any, key: Any) -> Any:
    if context is None:
        return None
    if not isinstance(context, Mapping):
        raise fail(f"get value() expects a context, got {describe_type(context)}")
    return dict.get(context, string_arg("get value()", key))


# --- strings ------------------------------------------------------------------------------------


def _strings(name: str, *values: Any) -> list[str] | None:
    """The arguments as str, or None if any is null (FEEL string functions are null-in null-out)."""
    if any(v is None for v in values):
        return None
    return [string_arg(name, v) for v in values]


@builtin
def feel_contains(text: Any, part: Any) -> Any:
    args = _strings("contains()", text, part)
    return None if args is None else BoolType(args[1] in args[0])


@builtin
def feel_starts_with(text: Any, prefix: Any) -> Any:
    args = _strings("starts with()", text, prefix)
    return None if args is None else BoolType(args[0].startswith(args[1]))


@builtin
def feel_ends_with(text: Any, suffix: Any) -> Any:
    args = _strings("ends with()", text, suffix)
    return None if args is None else BoolType(args[0].endswith(args[1]))


@builtin
def feel_upper_case(text: Any) -> Any:
    args = _strings("upper case()", text)
    return None if args is None else celtypes.StringType(args[0].upper())


@builtin
def feel_lower_case(text: Any) -> Any:
    args = _strings("lower case()", text)
    return None if args is None else celtypes.StringType(args[0].lower())


@builtin
def feel_trim(text: Any) -> Any:
    args = _strings("trim()", text)
    return None if args is None else celtypes.StringType(args[0].strip())


@builtin
def feel_string_length(text: Any) -> Any:
    args = _strings("string length()", text)
    return None if args is None else number(len(args[0]))


def _slice(length: int, start: Any, count: Any, name: str) -> tuple[int, int] | None:
    """FEEL's 1-based start (negative: from the end) and optional length as Python slice bounds."""
    (first,) = numbers(name, start)
    begin = int(first) - 1 if first > 0 else length + int(first)
    if first == 0 or begin < 0 or begin > length:
        return None
    if count is None:
        return begin, length
    (size,) = numbers(name, count)
    return begin, min(length, begin + max(0, int(size)))


@builtin
def feel_substring(text: Any, start: Any, length: Any = None) -> Any:
    if text is None or start is None:
        return None
    value = string_arg("substring()", text)
    bounds = _slice(len(value), start, length, "substring()")
    if bounds is None:
        raise fail(f"substring() start position {format_number(plain_number(start))} is outside the string")
    return celtypes.StringType(value[bounds[0] : bounds[1]])


@builtin
def feel_substring_before(text: Any, match: Any) -> Any:
    args = _strings("substring before()", text, match)
    if args is None:
        return None
    index = args[0].find(args[1])
    return celtypes.StringType("" if index < 0 else args[0][:index])


@builtin
def feel_substring_after(text: Any, match: Any) -> Any:
    args = _strings("substring after()", text, match)
    if args is None:
        return None
    index = args[0].find(args[1])
    return celtypes.StringType("" if index < 0 else args[0][index + len(args[1]) :])


@builtin
def feel_string_join(items: Any, delimiter: Any = "", prefix: Any = "", suffix: Any = "") -> Any:
    """Null entries are skipped, as in FEEL; other non-strings are an error."""
    if items is None:
        return None
    parts = [
        string_arg("string join()", item) for item in list_arg("string join()", items) if item is not None
    ]
    delimiter, prefix, suffix = (
        string_arg("string join()", v) if v is not None else "" for v in (delimiter, prefix, suffix)
    )
    return celtypes.StringType(prefix + delimiter.join(parts) + suffix)


def _regex(pattern: str, flags: Any = None) -> Any:
    letters = "" if flags is None else string_arg("regular expression flags", flags)
    try:
        return feel_regex.compile_pattern(pattern, letters)
    except feel_regex.RegexError as error:
        raise fail(str(error)) from None


def _regex_call(function: Callable[..., Any], *args: Any) -> Any:
    try:
        return function(*args)
    except feel_regex.RegexError as error:
        raise fail(str(error)) from None


@builtin
def feel_matches(text: Any, pattern: Any, flags: Any = None) -> Any:
    args = _strings("matches()", text, pattern)
    if args is None:
        return None
    return BoolType(_regex_call(feel_regex.search, _regex(args[1], flags), args[0]))


@builtin
def feel_replace(text: Any, pattern: Any, replacement: Any, flags: Any = None) -> Any:
    args = _strings("replace()", text, pattern, replacement)
    if args is None:
        return None
    # FEEL (XPath) writes group references as $1 ($0: the whole match); regex as \g<1>.
    template = re.sub(r"\$(\d)", r"\\g<\1>", args[2].replace("\\", "\\\\"))
    return celtypes.StringType(_regex_call(feel_regex.substitute, _regex(args[1], flags), template, args[0]))


@builtin
def feel_split(text: Any, delimiter: Any) -> Any:
    args = _strings("split()", text, delimiter)
    if args is None:
        return None
    parts = _regex_call(feel_regex.split, _regex(args[1]), args[0])
    return celtypes.ListType([celtypes.StringType(part) for part in parts])


# --- numbers ------------------------------------------------------------------------------------
# DMN 1.5 §10.3.4.5: numeric functions compute on FEEL's decimal numbers (Decimal128: 34 digits, half
# even), so decimal(1/3, 30), sqrt(2) or round half up(2.675, 2) give the decimal answer, not the
# nearest double's. Arguments are read exactly (to_decimal) and results leave through from_decimal
# (an integral value is an int). A number outside the function's domain (sqrt(-1), log(0), a scale
# beyond Decimal128's, modulo by 0) is null, as the spec and Camunda say; a non-number is a TypeError.

_SCALE_RANGE = (-6111, 6176)  # the scale range of DMN's decimal128 numbers
# Rounding to any scale in range needs more than 34 digits on the way (the value is rounded back after).
_WIDE = Context(prec=12_400, Emin=-7000, Emax=7000, traps=[])
# Intermediate results of stddev get more digits than the result keeps, so its last digit is right.
_EXTRA = Context(prec=50, rounding=ROUND_HALF_EVEN, Emin=-6143, Emax=6144, traps=[])


def _exact(name: str, value: Any) -> Decimal:
    """A numeric argument as its exact decimal (a singleton list is its element, as DMN converts)."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not is_number(value):
        raise fail(f"{name} expects numbers, got {describe_type(value)}")
    return to_decimal(value)


def _result(value: Decimal) -> Any:
    """A decimal result (finite, else null) rounded to Decimal128, as a celpy number."""
    if not value.is_finite():
        return None
    return from_decimal(DECIMAL128.plus(value))


def _scale(name: str, scale: Any) -> int | None:
    (digits,) = numbers(name, scale)
    if int(digits) != digits:
        raise fail(f"{name} expects a whole number of digits")
    return int(digits) if _SCALE_RANGE[0] <= digits <= _SCALE_RANGE[1] else None


def _rounded(value: Any, scale: Any, rounding: str, name: str) -> Any:
    if value is None or scale is None:
        return None
    exact = _exact(name, value)
    digits = _scale(name, scale)
    if digits is None:
        return None
    return _result(exact.quantize(Decimal(1).scaleb(-digits), rounding=rounding, context=_WIDE))


@functools.lru_cache(maxsize=1024)
def feel_decimal_literal(text: Any) -> Any:
    """A number literal no double holds (`1.00000000000000000001`, `12345678901234567890`), exactly."""
    return _result(DECIMAL128.create_decimal(str(text)))


@builtin
def feel_decimal(value: Any, scale: Any) -> Any:
    return _rounded(value, scale, ROUND_HALF_EVEN, "decimal()")


@builtin
def feel_round_half_up(value: Any, scale: Any) -> Any:
    return _rounded(value, scale, ROUND_HALF_UP, "round half up()")


@builtin
def feel_round_half_down(value: Any, scale: Any) -> Any:
    return _rounded(value, scale, ROUND_HALF_DOWN, "round half down()")


@builtin
def feel_round_up(value: Any, scale: Any) -> Any:
    return _rounded(value, scale, ROUND_UP, "round up()")


@builtin
def feel_round_down(value: Any, scale: Any) -> Any:
    return _rounded(value, scale, ROUND_DOWN, "round down()")


@builtin
def feel_floor(value: Any, scale: Any = 0) -> Any:
    return _rounded(value, scale, ROUND_FLOOR, "floor()")


@builtin
def feel_ceiling(value: Any, scale: Any = 0) -> Any:
    return _rounded(value, scale, ROUND_CEILING, "ceiling()")


@builtin
def feel_abs(value: Any) -> Any:
    if value is None:
        return None
    if is_temporal(value):
        duration = feel_temporal.from_python(value)
        return feel_temporal.negate(duration) if str(duration).startswith("-") else duration
    if type(value) is celtypes.IntType:
        return number(abs(int(value)))
    return _result(_exact("abs()", value).copy_abs())


@builtin
def feel_modulo(dividend: Any, divisor: Any) -> Any:
    """dividend - divisor * floor(dividend / divisor): the result takes the divisor's sign (DMN 1.5)."""
    if dividend is None or divisor is None:
        return None
    if type(dividend) is celtypes.IntType and type(divisor) is celtypes.IntType:
        return number(int(dividend) % int(divisor)) if divisor else None  # Python's % floors too
    x, y = _exact("modulo()", dividend), _exact("modulo()", divisor)
    if not y:
        return None
    remainder = _WIDE.remainder(x, y)  # exact, with the dividend's sign
    if remainder and (remainder < 0) != (y < 0):
        remainder = DECIMAL128.add(remainder, y)
    return _result(remainder)


@builtin
def feel_sqrt(value: Any) -> Any:
    if value is None:
        return None
    x = _exact("sqrt()", value)
    return None if x < 0 else _result(x.sqrt(DECIMAL128))


def _whole(name: str, value: Any) -> int | None:
    x = _exact(name, value)
    return int(x) if x == x.to_integral_value() else None


@builtin
def feel_odd(value: Any) -> Any:
    if value is None:
        return None
    whole = _whole("odd()", value)
    return BoolType(whole is not None and whole % 2 == 1)


@builtin
def feel_even(value: Any) -> Any:
    if value is None:
        return None
    whole = _whole("even()", value)
    return BoolType(whole is not None and whole % 2 == 0)


# --- lists --------------------------------------------------------------------------------------


@builtin
def feel_count(items: Any) -> Any:
    return None if items is None else number(len(list_arg("count()", items)))


def _number_list(name: str, items: Any) -> list[int | float] | None:
    values = items if isinstance(items, list) else [items]
    if any(v is None for v in values):
        return None
    return numbers(name, *values)


def _decimal_fold(name: str, items: Any, multiply: bool) -> Any:
    """sum() / product() as FEEL computes them: integers as integers, anything with a fraction in Decimal128."""
    values = _number_list(name, items)
    if values is None:
        return None
    if all(isinstance(v, int) for v in values):
        return number(math.prod(values) if multiply else sum(values))
    raw = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in (items if isinstance(items, list) else [items])]
    fold = DECIMAL128.multiply if multiply else DECIMAL128.add
    total = to_decimal(1 if multiply else 0)
    for v in raw:
        total = fold(total, to_decimal(v))
    return from_decimal(total)


@builtin
def feel_sum(items: Any) -> Any:
    return _decimal_fold("sum()", items, multiply=False)


@builtin
def feel_mean(items: Any) -> Any:
    values = _number_list("mean()", items)
    return None if not values else feel_divide(feel_sum(items), number(len(values)))


@builtin
def feel_min(items: Any) -> Any:
    return _extreme(items, "min()", min)


@builtin
def feel_max(items: Any) -> Any:
    return _extreme(items, "max()", max)


def _extreme(items: Any, name: str, pick: Callable[..., Any]) -> Any:
    values = items if isinstance(items, list) else [items]
    if not values or any(v is None for v in values):
        return None
    first = values[0]
    for value in values[1:]:
        ordered(first, value, name)  # all of one comparable kind, or a clear error
    if feel_temporal.is_temporal(first):  # dates, durations...: FEEL's own order
        return pick(values, key=functools.cmp_to_key(_natural))
    return pick(values, key=lambda v: to_decimal(v) if is_number(v) else v)  # decimals compare exactly


@builtin
def feel_all(items: Any) -> Any:
    result: Any = TRUE
    for value in items if isinstance(items, list) else [items]:
        result = feel_and(result, value)
    return result


@builtin
def feel_any(items: Any) -> Any:
    result: Any = FALSE
    for value in items if isinstance(items, list) else [items]:
        result = feel_or(result, value)
    return result


@builtin
def feel_list_contains(items: Any, value: Any) -> Any:
    if items is None:
        return None
    return BoolType(any(cel_equal(item, value) for item in list_arg("list contains()", items)))


@builtin
def feel_append(items: Any, extra: Any) -> Any:
    if items is None:
        return None
    return celtypes.ListType([*list_arg("append()", items), *extra])


@builtin
def feel_concatenate(lists: Any) -> Any:
    if any(items is None for items in lists):
        return None
    return celtypes.ListType([item for items in lists for item in list_arg("concatenate()", items)])


@builtin
def feel_distinct_values(items: Any) -> Any:
    if items is None:
        return None
    result: list[Any] = []
    for item in list_arg("distinct values()", items):
        if not any(cel_equal(item, seen) for seen in result):
            result.append(item)
    return celtypes.ListType(result)


@builtin
def feel_flatten(items: Any) -> Any:
    if items is None:
        return None

    def walk(value: Any) -> Any:
        for item in value:
            if isinstance(item, list):
                yield from walk(item)
            else:
                yield item

    return celtypes.ListType(list(walk(list_arg("flatten()", items))))


@builtin
def feel_reverse(items: Any) -> Any:
    return None if items is None else celtypes.ListType(list(reversed(list_arg("reverse()", items))))


@builtin
def feel_index_of(items: Any, value: Any) -> Any:
    if items is None:
        return None
    positions = [i + 1 for i, item in enumerate(list_arg("index of()", items)) if cel_equal(item, value)]
    return celtypes.ListType([number(p) for p in positions])


@builtin
def feel_sublist(items: Any, start: Any, length: Any = None) -> Any:
    if items is None or start is None:
        return None
    values = list_arg("sublist()", items)
    bounds = _slice(len(values), start, length, "sublist()")
    if bounds is None:
        raise fail(f"sublist() start position {format_number(plain_number(start))} is outside the list")
    return celtypes.ListType(values[bounds[0] : bounds[1]])


# --- dates, times, durations --------------------------------------------------------------------


def temporal(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    """A temporal constructor as a FEEL function: null in, null out; bad text is a TypeError."""

    @builtin
    def call(*args: Any) -> Any:
        if any(arg is None for arg in args):
            return None
        try:
            return function(*args)
        except ValueError as error:
            raise fail(f"{name}(): {error}") from None

    call.__name__ = call.__qualname__ = "feel_" + name.replace(" ", "_")
    return call


def _date(value: Any, month: Any = None, day: Any = None) -> Any:
    if month is None and day is None:
        return feel_temporal.date_of(value)
    return feel_temporal.date_from_parts(value, month, day)


def _date_and_time(value: Any, time: Any = None) -> Any:
    if time is None:
        return feel_temporal.date_time_of(value)
    return feel_temporal.date_time_from(value, time)


def _time(value: Any, minute: Any = None, second: Any = None, offset: Any = None) -> Any:
    if minute is None and second is None:
        return feel_temporal.time_of(value)
    return feel_temporal.time_from_parts(value, minute, second, offset)


feel_date = temporal(_date, "date")
feel_date_and_time = temporal(_date_and_time, "date and time")
feel_time = temporal(_time, "time")
feel_duration = temporal(feel_temporal.duration_of, "duration")
feel_years_and_months_duration = temporal(feel_temporal.months_between, "years and months duration")


# --- more numbers, lists, contexts and dates (the DMN built-ins) ------------------------------


@builtin
def feel_log(value: Any) -> Any:
    """The natural logarithm, to 34 digits; null for a number that is not positive."""
    if value is None:
        return None
    x = _exact("log()", value)
    return None if x <= 0 else _result(x.ln(DECIMAL128))


@builtin
def feel_exp(value: Any) -> Any:
    """e to the power of the number, to 34 digits; null when that leaves Decimal128's range."""
    if value is None:
        return None
    return _result(_exact("exp()", value).exp(DECIMAL128))


@builtin
def feel_product(items: Any) -> Any:
    values = _number_list("product()", items)
    return None if not values else _decimal_fold("product()", items, multiply=True)


def _decimals(name: str, items: Any) -> list[Decimal] | None:
    """A list of numbers (or the numbers given as arguments) as exact decimals; None if one is null."""
    values = items if isinstance(items, list) else [items]
    if any(v is None for v in values):
        return None
    return [_exact(name, v) for v in values]


@builtin
def feel_median(items: Any) -> Any:
    values = _decimals("median()", items)
    if not values:
        return None
    values.sort()
    middle = len(values) // 2
    if len(values) % 2:
        return _result(values[middle])
    return _result(DECIMAL128.divide(DECIMAL128.add(values[middle - 1], values[middle]), 2))


@builtin
def feel_stddev(items: Any) -> Any:
    """The sample standard deviation (n - 1), computed with 50 digits and rounded to 34."""
    values = _decimals("stddev()", items)
    if not values or len(values) < 2:
        return None
    mean = _EXTRA.divide(functools.reduce(_EXTRA.add, values), len(values))
    squares = functools.reduce(_EXTRA.add, (_EXTRA.power(_EXTRA.subtract(v, mean), 2) for v in values))
    return _result(_EXTRA.divide(squares, len(values) - 1).sqrt(_EXTRA))


@builtin
def feel_mode(items: Any) -> Any:
    values = items if isinstance(items, list) else [items]
    exact = _decimals("mode()", items)
    if exact is None:
        return None
    counts: dict[Decimal, int] = {}
    first: dict[Decimal, Any] = {}  # a value as given (1 and 1.0 are one value, the first one written)
    for decimal_value, given in zip(exact, values, strict=True):
        counts[decimal_value] = counts.get(decimal_value, 0) + 1
        first.setdefault(decimal_value, _single_value(given))
    top = max(counts.values(), default=0)
    return celtypes.ListType([first[v] for v in sorted(v for v, c in counts.items() if c == top)])


def _single_value(value: Any) -> Any:
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _position(name: str, length: int, position: Any) -> int:
    """A 1-based FEEL position (negative counts from the end) as a 0-based index."""
    (p,) = numbers(name, position)
    if p != int(p) or p == 0 or abs(p) > length:
        raise fail(f"{name} position {format_number(p)} is outside the list")
    return int(p) - 1 if p > 0 else length + int(p)


@builtin
def feel_insert_before(items: Any, position: Any, item: Any) -> Any:
    if items is None or position is None:
        return None
    values = list(list_arg("insert before()", items))
    values.insert(_position("insert before()", len(values), position), item)
    return celtypes.ListType(values)


@builtin
def feel_remove(items: Any, position: Any) -> Any:
    if items is None or position is None:
        return None
    values = list(list_arg("remove()", items))
    del values[_position("remove()", len(values), position)]
    return celtypes.ListType(values)


@builtin
def feel_list_replace(items: Any, position: Any, item: Any) -> Any:
    """list replace(list, position or match function, newItem)."""
    if items is None or position is None:
        return None
    values = list(singleton_list(items))
    if isinstance(position, FeelFunction):
        # match(item, newItem) decides which elements are replaced; it must answer true or false.
        if len(position.parameters) != 2:
            raise fail("list replace() expects a match function of two parameters")
        replaced = []
        for value in values:
            verdict = call_function(position, [value, item])
            if not isinstance(verdict, bool):
                raise fail("list replace(): the match function must return true or false")
            replaced.append(item if verdict else value)
        return celtypes.ListType(replaced)
    if is_number(position):
        position = int(position)  # DMN: a position with a fraction is truncated
    values[_position("list replace()", len(values), position)] = item
    return celtypes.ListType(values)


def singleton_list(value: Any) -> list[Any]:
    """DMN's implicit conversion where a list is expected: a single value is a list of one."""
    return value if isinstance(value, list) else [value]


def call_function(function: FeelFunction, args: list[Any]) -> Any:
    """Call a function value with celpy arguments; the plain result (temporal values kept)."""
    return function.call([to_plain(arg) for arg in args])


@builtin
def feel_sort(items: Any, precedes: Any = None) -> Any:
    """sort(list, precedes): precedes(a, b) is true when a comes first; without it, natural order."""
    if items is None:
        return None
    values = list(list_arg("sort()", items))
    if precedes is None:
        return celtypes.ListType(sorted(values, key=functools.cmp_to_key(_natural)))
    if not isinstance(precedes, FeelFunction) or len(precedes.parameters) != 2:
        raise fail("sort() expects a function of two parameters")

    def compare(a: Any, b: Any) -> int:
        if call_function(precedes, [a, b]) is True:
            return -1
        return 1 if call_function(precedes, [b, a]) is True else 0

    return celtypes.ListType(sorted(values, key=functools.cmp_to_key(compare)))


@builtin
def feel_numbers_from(low: Any, high: Any) -> Any:
    """The domain of `for i in low..high`: whole numbers, ascending or descending."""
    first, last = numbers("a for range", low, high)
    if first != int(first) or last != int(last):
        raise fail("the bounds of a for range must be whole numbers")
    if abs(last - first) > 1_000_000:
        raise fail("a for range is limited to a million numbers")
    step = 1 if last >= first else -1
    return celtypes.ListType([number(n) for n in range(int(first), int(last) + step, step)])


def _natural(a: Any, b: Any) -> int:
    x, y = ordered(a, b, "sort()")
    return (x > y) - (x < y)


@builtin
def feel_union(lists: Any) -> Any:
    if any(items is None for items in lists):
        return None
    return raising(feel_distinct_values)(raising(feel_concatenate)(lists))


def _context_arg(name: str, value: Any) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise fail(f"{name} expects a context, got {describe_type(value)}")
    return value


@builtin
def feel_get_entries(context: Any) -> Any:
    if context is None:
        return None
    entries = _context_arg("get entries()", context)
    return celtypes.ListType(
        [celtypes.MapType({celtypes.StringType("key"): k, celtypes.StringType("value"): v}) for k, v in entries.items()]
    )


@builtin
def feel_context(entries: Any) -> Any:
    if entries is None:
        return None
    result: dict[Any, Any] = {}
    for entry in singleton_list(entries):
        pairs = _context_arg("context()", entry)
        if not {"key", "value"} <= set(map(str, pairs)):
            raise fail("context() expects entries with a key and a value")
        key = pairs[celtypes.StringType("key")]
        string_arg("context()", key)
        if key in result:
            raise fail(f"context() got the key {str(key)!r} twice")
        result[key] = pairs[celtypes.StringType("value")]
    return celtypes.MapType(result)


@builtin
def feel_context_put(context: Any, key: Any, value: Any) -> Any:
    if context is None or key is None:
        return None
    result = dict(_context_arg("context put()", context))
    result[celtypes.StringType(string_arg("context put()", key))] = value
    return celtypes.MapType(result)


@builtin
def feel_context_merge(contexts: Any) -> Any:
    if contexts is None:
        return None
    result: dict[Any, Any] = {}
    for context in singleton_list(contexts):
        result.update(_context_arg("context merge()", context))
    return celtypes.MapType(result)


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")


def _date_arg(name: str, value: Any) -> Any:
    try:
        return feel_temporal.date_of(value)
    except (TypeError, ValueError):
        raise fail(f"{name} expects a date") from None


@builtin
def feel_day_of_year(value: Any) -> Any:
    if value is None:
        return None
    date = _date_arg("day of year()", value)
    return number(date.epoch_day - feel_temporal.Date(date.year, 1, 1).epoch_day + 1)


@builtin
def feel_day_of_week(value: Any) -> Any:
    if value is None:
        return None
    return celtypes.StringType(_DAY_NAMES[feel_temporal.member(_date_arg("day of week()", value), "weekday") - 1])


@builtin
def feel_month_of_year(value: Any) -> Any:
    if value is None:
        return None
    return celtypes.StringType(_MONTH_NAMES[_date_arg("month of year()", value).month - 1])


@builtin
def feel_week_of_year(value: Any) -> Any:
    if value is None:
        return None
    date = _date_arg("week of year()", value)
    # ISO 8601 week: the week (Monday first) holding the year's first Thursday is week 1.
    weekday = feel_temporal.member(date, "weekday")
    thursday = date.epoch_day - weekday + 4
    year = feel_temporal.Date.of_epoch_day(thursday).year
    return number((thursday - feel_temporal.Date(year, 1, 1).epoch_day) // 7 + 1)


@builtin
def feel_invoke(function: Any, names: Any, args: Any) -> Any:
    """A call of a function value (user functions: see FeelFunction); names are [] or one per argument."""
    if not isinstance(function, FeelFunction):
        raise fail(f"{describe_type(function)} is not a function")
    values = [to_plain(arg) for arg in args]
    if names:
        given = dict(zip([str(n) for n in names], values, strict=True))
        unknown = set(given) - set(function.parameters)
        if unknown:
            raise fail(f"{function.name}() has no parameter {sorted(unknown)[0]!r}")
        values = [given.get(name) for name in function.parameters]
    elif len(values) != len(function.parameters):
        raise fail(f"{function.name}() takes {len(function.parameters)} arguments, got {len(values)}")
    return to_cel(function.call(values))


@builtin
def feel_is(a: Any, b: Any) -> Any:
    """is(a, b): the same kind of value and equal; date-times must also share their offset."""
    if a is None or b is None:
        return BoolType(a is None and b is None)
    if is_temporal(a) or is_temporal(b):
        return BoolType(is_temporal(a) and is_temporal(b) and feel_temporal.identical(a, b))
    if is_number(a) and is_number(b):
        return BoolType(cel_equal(a, b))
    if type(a) is not type(b):
        return FALSE
    return BoolType(cel_equal(a, b))


# --- the tables ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Builtin:
    """A FEEL built-in: the celpy function implementing it and the arguments it accepts.

    `pack` says how FEEL's variable arguments reach the function: "varargs" (sum(1, 2) and
    sum([1, 2]) alike: several arguments become one list), "rest" (append(list, a, b): the
    arguments after the first become one list), "all" (every argument into one list).
    """

    function: Callable[..., Any]
    min_args: int
    max_args: int | None
    pack: str = ""


BUILTINS: dict[str, Builtin] = {
    # conversion and context access
    "string": Builtin(feel_string, 1, 1),
    "number": Builtin(feel_number, 1, 3),
    "get or else": Builtin(feel_get_or_else, 2, 2),
    "get value": Builtin(feel_get_value, 2, 2),
    # strings
    "contains": Builtin(feel_contains, 2, 2),
    "starts with": Builtin(feel_starts_with, 2, 2),
    "ends with": Builtin(feel_ends_with, 2, 2),
    "upper case": Builtin(feel_upper_case, 1, 1),
    "lower case": Builtin(feel_lower_case, 1, 1),
    "trim": Builtin(feel_trim, 1, 1),
    "string length": Builtin(feel_string_length, 1, 1),
    "substring": Builtin(feel_substring, 2, 3),
    "substring before": Builtin(feel_substring_before, 2, 2),
    "substring after": Builtin(feel_substring_after, 2, 2),
    "string join": Builtin(feel_string_join, 1, 4),
    "matches": Builtin(feel_matches, 2, 3),
    "replace": Builtin(feel_replace, 3, 4),
    "split": Builtin(feel_split, 2, 2),
    # numbers
    "abs": Builtin(feel_abs, 1, 1),
    "floor": Builtin(feel_floor, 1, 2),
    "ceiling": Builtin(feel_ceiling, 1, 2),
    "decimal": Builtin(feel_decimal, 2, 2),
    "round half up": Builtin(feel_round_half_up, 2, 2),
    "round half down": Builtin(feel_round_half_down, 2, 2),
    "round up": Builtin(feel_round_up, 2, 2),
    "round down": Builtin(feel_round_down, 2, 2),
    "modulo": Builtin(feel_modulo, 2, 2),
    "sqrt": Builtin(feel_sqrt, 1, 1),
    "odd": Builtin(feel_odd, 1, 1),
    "even": Builtin(feel_even, 1, 1),
    # lists
    "count": Builtin(feel_count, 1, 1),
    "sum": Builtin(feel_sum, 1, None, "varargs"),
    "mean": Builtin(feel_mean, 1, None, "varargs"),
    "min": Builtin(feel_min, 1, None, "varargs"),
    "max": Builtin(feel_max, 1, None, "varargs"),
    "all": Builtin(feel_all, 1, None, "varargs"),
    "any": Builtin(feel_any, 1, None, "varargs"),
    "list contains": Builtin(feel_list_contains, 2, 2),
    "append": Builtin(feel_append, 1, None, "rest"),
    "concatenate": Builtin(feel_concatenate, 1, None, "all"),
    "distinct values": Builtin(feel_distinct_values, 1, 1),
    "flatten": Builtin(feel_flatten, 1, 1),
    "reverse": Builtin(feel_reverse, 1, 1),
    "index of": Builtin(feel_index_of, 2, 2),
    "sublist": Builtin(feel_sublist, 2, 3),
    # dates, times, durations (now() and today() read the engine clock: feel.py binds them)
    "date and time": Builtin(feel_date_and_time, 1, 2),
    "date": Builtin(feel_date, 1, 3),
    "time": Builtin(feel_time, 1, 4),
    "duration": Builtin(feel_duration, 1, 1),
    "years and months duration": Builtin(feel_years_and_months_duration, 2, 2),
    # the rest of DMN's built-ins
    "log": Builtin(feel_log, 1, 1),
    "exp": Builtin(feel_exp, 1, 1),
    "product": Builtin(feel_product, 1, None, "varargs"),
    "median": Builtin(feel_median, 1, None, "varargs"),
    "stddev": Builtin(feel_stddev, 1, None, "varargs"),
    "mode": Builtin(feel_mode, 1, None, "varargs"),
    "insert before": Builtin(feel_insert_before, 3, 3),
    "remove": Builtin(feel_remove, 2, 2),
    "list replace": Builtin(feel_list_replace, 3, 3),
    "sort": Builtin(feel_sort, 1, 2),
    "feel numbers from": Builtin(feel_numbers_from, 2, 2),  # only the parser writes this name
    "union": Builtin(feel_union, 1, None, "all"),
    "get entries": Builtin(feel_get_entries, 1, 1),
    "context": Builtin(feel_context, 1, 1),
    "context put": Builtin(feel_context_put, 3, 3),
    "context merge": Builtin(feel_context_merge, 1, 1),
    "day of year": Builtin(feel_day_of_year, 1, 1),
    "day of week": Builtin(feel_day_of_week, 1, 1),
    "month of year": Builtin(feel_month_of_year, 1, 1),
    "week of year": Builtin(feel_week_of_year, 1, 1),
    "is": Builtin(feel_is, 2, 2),
    "range": Builtin(feel_range_of, 1, 1),
    **{name: Builtin(function, 2, 2) for name, function in RANGE_FUNCTIONS.items()},
}

# Parameter names (DMN 1.5, chapter 10.3.4), for calls that name their arguments.
PARAMETERS: dict[str, tuple[str, ...]] = {
    "string": ("from",),
    "number": ("from", "grouping separator", "decimal separator"),
    "get or else": ("value", "default"),
    "get value": ("m", "key"),
    "contains": ("string", "match"),
    "starts with": ("string", "match"),
    "ends with": ("string", "match"),
    "upper case": ("string",),
    "lower case": ("string",),
    "trim": ("string",),
    "string length": ("string",),
    "substring": ("string", "start position", "length"),
    "substring before": ("string", "match"),
    "substring after": ("string", "match"),
    "string join": ("list", "delimiter"),
    "matches": ("input", "pattern", "flags"),
    "replace": ("input", "pattern", "replacement", "flags"),
    "split": ("string", "delimiter"),
    "abs": ("n",),
    "floor": ("n", "scale"),
    "ceiling": ("n", "scale"),
    "decimal": ("n", "scale"),
    "round half up": ("n", "scale"),
    "round half down": ("n", "scale"),
    "round up": ("n", "scale"),
    "round down": ("n", "scale"),
    "modulo": ("dividend", "divisor"),
    "sqrt": ("number",),
    "log": ("number",),
    "exp": ("number",),
    "odd": ("number",),
    "even": ("number",),
    "count": ("list",),
    "sum": ("list",),
    "mean": ("list",),
    "min": ("list",),
    "max": ("list",),
    "all": ("list",),
    "any": ("list",),
    "product": ("list",),
    "median": ("list",),
    "stddev": ("list",),
    "mode": ("list",),
    "list contains": ("list", "element"),
    "distinct values": ("list",),
    "flatten": ("list",),
    "reverse": ("list",),
    "index of": ("list", "match"),
    "sublist": ("list", "start position", "length"),
    "insert before": ("list", "position", "newItem"),
    "remove": ("list", "position"),
    "list replace": ("list", "position", "newItem"),
    "sort": ("list", "precedes"),
    "date and time": ("from",),
    "date": ("from",),
    "time": ("from",),
    "duration": ("from",),
    "years and months duration": ("from", "to"),
    "get entries": ("m",),
    "context": ("entries",),
    "context put": ("context", "key", "value"),
    "context merge": ("contexts",),
    "day of year": ("date",),
    "day of week": ("date",),
    "month of year": ("date",),
    "week of year": ("date",),
    "is": ("value1", "value2"),
    "range": ("from",),
    **{name: signatures[0] for name, signatures in RANGE_PARAMETERS.items()},
}

# Other signatures a call with named arguments may use (the first that has every name given).
ALTERNATIVE_PARAMETERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "date": (("year", "month", "day"),),
    "date and time": (("date", "time"),),
    "time": (("hour", "minute", "second", "offset"),),
    "list replace": (("list", "match", "newItem"),),
    **{name: signatures[1:] for name, signatures in RANGE_PARAMETERS.items() if signatures[1:]},
}

# The celpy function table of every FEEL program.
FEEL_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **OPERATORS,
    **{entry.function.__name__: entry.function for entry in BUILTINS.values()},
    "feel_invoke": feel_invoke,
    "feel_decimal_literal": feel_decimal_literal,
}
