"""FEEL's range functions (DMN 1.5, 10.3.4.11): before, after, meets, overlaps, includes, ...

Each takes points (numbers, strings, dates...) and ranges (FeelRange) in the combinations the
specification lists and answers true or false; other combinations are a TypeError (FEEL's
null). A range's missing bound is unbounded (`range("< 5")`). The definitions below follow
the specification's table of each function, written with two comparisons: `lt(a, b)` and
`eq(a, b)` of endpoints, where an unbounded start is below and an unbounded end above every
point.

range(text) reads a range literal from text ("[1..10)", "< 5"), with endpoints that are
literals: numbers, strings, null and temporal literals or constructors (@"P1D",
date("2024-01-01")).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import engine.expressions.feel_temporal as feel_temporal

from .cel_functions import cel_equal, ordered
from .feel_operators import FALSE, TRUE, builtin, fail, is_number
from .values import FeelRange

_LOW, _HIGH = object(), object()  # the unbounded ends


def _lt(a: Any, b: Any) -> bool:
    if a is _LOW or b is _HIGH:
        return a is not b
    if a is _HIGH or b is _LOW:
        return False
    x, y = ordered(a, b, "a range function")
    return bool(x < y)


def _eq(a: Any, b: Any) -> bool:
    if a in (_LOW, _HIGH) or b in (_LOW, _HIGH):
        return a is b
    ordered(a, b, "a range function")  # points of different kinds are an error, not false
    return cel_equal(a, b)


class _R:
    """A range's ends, with unbounded ends made comparable."""

    def __init__(self, value: FeelRange) -> None:
        self.start = _LOW if value.low is None else value.low
        self.end = _HIGH if value.high is None else value.high
        self.start_in = value.closed_low and value.low is not None
        self.end_in = value.closed_high and value.high is not None


def _before(a: Any, b: Any) -> bool:
    if not isinstance(a, FeelRange) and not isinstance(b, FeelRange):
        return _lt(a, b)
    if not isinstance(a, FeelRange):
        r = _R(b)
        return _lt(a, r.start) or (_eq(a, r.start) and not r.start_in)
    if not isinstance(b, FeelRange):
        r = _R(a)
        return _lt(r.end, b) or (_eq(r.end, b) and not r.end_in)
    r1, r2 = _R(a), _R(b)
    return _lt(r1.end, r2.start) or ((not r1.end_in or not r2.start_in) and _eq(r1.end, r2.start))


def _after(a: Any, b: Any) -> bool:
    if not isinstance(a, FeelRange) and not isinstance(b, FeelRange):
        return _lt(b, a)
    if not isinstance(a, FeelRange):
        r = _R(b)
        return _lt(r.end, a) or (_eq(a, r.end) and not r.end_in)
    if not isinstance(b, FeelRange):
        r = _R(a)
        return _lt(b, r.start) or (_eq(r.start, b) and not r.start_in)
    r1, r2 = _R(a), _R(b)
    return _lt(r2.end, r1.start) or ((not r1.start_in or not r2.end_in) and _eq(r1.start, r2.end))


def _ranges(a: Any, b: Any, name: str) -> tuple[_R, _R]:
    if not isinstance(a, FeelRange) or not isinstance(b, FeelRange):
        raise fail(f"{name}() expects two ranges")
    return _R(a), _R(b)


def _meets(a: Any, b: Any) -> bool:
    r1, r2 = _ranges(a, b, "meets")
    return r1.end_in and r2.start_in and _eq(r1.end, r2.start)


def _met_by(a: Any, b: Any) -> bool:
    r1, r2 = _ranges(a, b, "met by")
    return r1.start_in and r2.end_in and _eq(r1.start, r2.end)


def _overlaps(a: Any, b: Any) -> bool:
    r1, r2 = _ranges(a, b, "overlaps")
    return (_lt(r2.start, r1.end) or (_eq(r1.end, r2.start) and r1.end_in and r2.start_in)) and (
        _lt(r1.start, r2.end) or (_eq(r1.start, r2.end) and r1.start_in and r2.end_in)
    )


def _overlaps_before(a: Any, b: Any) -> bool:
    r1, r2 = _ranges(a, b, "overlaps before")
    return (
        (_lt(r1.start, r2.start) or (_eq(r1.start, r2.start) and r1.start_in and not r2.start_in))
        and (_lt(r2.start, r1.end) or (_eq(r1.end, r2.start) and r1.end_in and r2.start_in))
        and (_lt(r1.end, r2.end) or (_eq(r1.end, r2.end) and (not r1.end_in or r2.end_in)))
    )


def _overlaps_after(a: Any, b: Any) -> bool:
    return _overlaps_before(b, a)


def _finishes(a: Any, b: Any) -> bool:
    if not isinstance(b, FeelRange):
        raise fail("finishes() expects a range as its second argument")
    r2 = _R(b)
    if not isinstance(a, FeelRange):
        return r2.end_in and _eq(r2.end, a)
    r1 = _R(a)
    return (
        r1.end_in == r2.end_in
        and _eq(r1.end, r2.end)
        and (_lt(r2.start, r1.start) or (_eq(r1.start, r2.start) and (not r1.start_in or r2.start_in)))
    )


def _finished_by(a: Any, b: Any) -> bool:
    if not isinstance(a, FeelRange):
        raise fail("finished by() expects a range as its first argument")
    r1 = _R(a)
    if not isinstance(b, FeelRange):
        return r1.end_in and _eq(r1.end, b)
    r2 = _R(b)
    return (
        r1.end_in == r2.end_in
        and _eq(r1.end, r2.end)
        and (_lt(r1.start, r2.start) or (_eq(r1.start, r2.start) and (r1.start_in or not r2.start_in)))
    )


def _includes(a: Any, b: Any) -> bool:
    if not isinstance(a, FeelRange):
        raise fail("includes() expects a range as its first argument")
    r1 = _R(a)
    if not isinstance(b, FeelRange):
        return (
            (_lt(r1.start, b) and _lt(b, r1.end))
            or (_eq(r1.start, b) and r1.start_in)
            or (_eq(r1.end, b) and r1.end_in)
        )
    r2 = _R(b)
    return (_lt(r1.start, r2.start) or (_eq(r1.start, r2.start) and (r1.start_in or not r2.start_in))) and (
        _lt(r2.end, r1.end) or (_eq(r1.end, r2.end) and (r1.end_in or not r2.end_in))
    )


def _during(a: Any, b: Any) -> bool:
    if not isinstance(b, FeelRange):
        raise fail("during() expects a range as its second argument")
    return _includes(b, a)


def _starts(a: Any, b: Any) -> bool:
    if not isinstance(b, FeelRange):
        raise fail("starts() expects a range as its second argument")
    r2 = _R(b)
    if not isinstance(a, FeelRange):
        return _eq(r2.start, a) and r2.start_in
    r1 = _R(a)
    return (
        _eq(r1.start, r2.start)
        and r1.start_in == r2.start_in
        and (_lt(r1.end, r2.end) or (_eq(r1.end, r2.end) and (not r1.end_in or r2.end_in)))
    )


def _started_by(a: Any, b: Any) -> bool:
    if not isinstance(a, FeelRange):
        raise fail("started by() expects a range as its first argument")
    r1 = _R(a)
    if not isinstance(b, FeelRange):
        return _eq(r1.start, b) and r1.start_in
    r2 = _R(b)
    return (
        _eq(r1.start, r2.start)
        and r1.start_in == r2.start_in
        and (_lt(r2.end, r1.end) or (_eq(r1.end, r2.end) and (not r2.end_in or r1.end_in)))
    )


def _coincides(a: Any, b: Any) -> bool:
    if isinstance(a, FeelRange) != isinstance(b, FeelRange):
        raise fail("coincides() expects two points or two ranges")
    if not isinstance(a, FeelRange):
        return _eq(a, b)
    r1, r2 = _R(a), _R(b)
    return _eq(r1.start, r2.start) and r1.start_in == r2.start_in and _eq(r1.end, r2.end) and r1.end_in == r2.end_in


def _function(name: str, test: Callable[[Any, Any], bool]) -> Callable[..., Any]:
    @builtin
    def call(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        return TRUE if test(a, b) else FALSE

    call.__name__ = call.__qualname__ = "feel_" + name.replace(" ", "_")
    return call


# Module attributes: the generated code of a FEEL program calls them as module.name.
feel_before = _function("before", _before)
feel_after = _function("after", _after)
feel_meets = _function("meets", _meets)
feel_met_by = _function("met by", _met_by)
feel_overlaps = _function("overlaps", _overlaps)
feel_overlaps_before = _function("overlaps before", _overlaps_before)
feel_overlaps_after = _function("overlaps after", _overlaps_after)
feel_finishes = _function("finishes", _finishes)
feel_finished_by = _function("finished by", _finished_by)
feel_includes = _function("includes", _includes)
feel_during = _function("during", _during)
feel_starts = _function("starts", _starts)
feel_started_by = _function("started by", _started_by)
feel_coincides = _function("coincides", _coincides)

RANGE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "before": feel_before,
    "after": feel_after,
    "meets": feel_meets,
    "met by": feel_met_by,
    "overlaps": feel_overlaps,
    "overlaps before": feel_overlaps_before,
    "overlaps after": feel_overlaps_after,
    "finishes": feel_finishes,
    "finished by": feel_finished_by,
    "includes": feel_includes,
    "during": feel_during,
    "starts": feel_starts,
    "started by": feel_started_by,
    "coincides": feel_coincides,
}

# Their named parameters, one signature per combination of points and ranges (DMN 1.5 table 78).
RANGE_PARAMETERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "before": (("point1", "point2"), ("point", "range"), ("range", "point"), ("range1", "range2")),
    "after": (("point1", "point2"), ("point", "range"), ("range", "point"), ("range1", "range2")),
    "meets": (("range1", "range2"),),
    "met by": (("range1", "range2"),),
    "overlaps": (("range1", "range2"),),
    "overlaps before": (("range1", "range2"),),
    "overlaps after": (("range1", "range2"),),
    "finishes": (("point", "range"), ("range1", "range2")),
    "finished by": (("range", "point"), ("range1", "range2")),
    "includes": (("range", "point"), ("range1", "range2")),
    "during": (("point", "range"), ("range1", "range2")),
    "starts": (("point", "range"), ("range1", "range2")),
    "started by": (("range", "point"), ("range1", "range2")),
    "coincides": (("point1", "point2"), ("range1", "range2")),
}


# --- range(text) --------------------------------------------------------------------------------

_INTERVAL = re.compile(r"\s*([\[(\]])\s*(.*?)\s*\.\.\s*(.*?)\s*([\])\[])\s*", re.DOTALL)
_UNARY = re.compile(r"\s*(<=|>=|<|>|=)\s*(.+?)\s*", re.DOTALL)
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_CALL = re.compile(r"(@|date and time|date|time|duration)\s*\(?\s*\"([^\"]*)\"\s*\)?")
_CONSTRUCTORS: dict[str, Callable[[str], Any]] = {
    "@": feel_temporal.parse_literal,
    "date": feel_temporal.parse_date,
    "time": feel_temporal.parse_time,
    "date and time": feel_temporal.parse_date_time,
    "duration": feel_temporal.parse_duration,
}


def _endpoint(text: str) -> Any:
    if text in ("", "null"):
        return None
    if _NUMBER.fullmatch(text):
        return float(text) if "." in text else int(text)
    if (string := _STRING.fullmatch(text)) is not None:
        return string.group(1).replace('\\"', '"')
    call = _CALL.fullmatch(text)
    if call is not None and (call.group(1) == "@") == text.startswith("@"):
        try:
            return _CONSTRUCTORS[call.group(1)](call.group(2))
        except ValueError:
            pass
    raise fail(f"range() cannot read the endpoint {text!r}")


@builtin
def feel_range_of(text: Any) -> Any:
    """range("[1..10)"), range("< 5"): the range a literal text stands for."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise fail("range() expects a string")
    interval = _INTERVAL.fullmatch(text)
    if interval is not None:
        opening, low_text, high_text, closing = interval.groups()
        low, high = _endpoint(low_text), _endpoint(high_text)
        if low is None and high is None:
            raise fail("range() needs at least one bound")
        if low is not None and high is not None:
            ordered(low, high, "range()")
            if is_number(low) and low > high:
                raise fail("range(): the start is after the end")
        return FeelRange(low, high, opening == "[" and low is not None, closing == "]" and high is not None)
    unary = _UNARY.fullmatch(text)
    if unary is not None:
        operator, point = unary.group(1), _endpoint(unary.group(2))
        if point is None:
            raise fail("range() needs a point after the operator")
        if operator == "=":
            return FeelRange(point, point, True, True)
        if operator in ("<", "<="):
            return FeelRange(None, point, False, operator == "<=")
        return FeelRange(point, None, operator == ">=", False)
    raise fail(f"range() cannot read {text!r}")
