"""Conversion between plain Python and celpy values, and ISO 8601 text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from celpy import celtypes

from engine.expressions import EvaluationError, ExpressionError, compile_value
from engine.expressions.temporal import format_datetime, format_duration, parse_datetime, parse_duration
from engine.expressions.values import copy_plain, format_number, to_cel, to_plain


def test_plain_values_become_celpy_values() -> None:
    assert type(to_cel(True)) is celtypes.BoolType
    assert type(to_cel(3)) is celtypes.IntType
    assert type(to_cel(1.5)) is celtypes.DoubleType
    assert type(to_cel(Decimal("1.5"))) is celtypes.DoubleType
    assert type(to_cel("x")) is celtypes.StringType
    assert type(to_cel({"a": [1]})) is celtypes.MapType
    assert type(to_cel({"a": [1]})["a"]) is celtypes.ListType
    assert to_cel(None) is None
    assert type(to_cel(dt.datetime(2024, 1, 1))) is celtypes.TimestampType
    assert type(to_cel(dt.timedelta(hours=1))) is celtypes.DurationType
    assert to_cel(dt.date(2024, 1, 2)) == "2024-01-02"


def test_celpy_values_become_plain_values() -> None:
    value = to_plain(to_cel({"n": 1, "b": False, "f": 2.5, "s": "x", "l": [None]}))
    assert value == {"n": 1, "b": False, "f": 2.5, "s": "x", "l": [None]}
    assert [type(v) for v in value.values()] == [int, bool, float, str, list]
    assert to_plain(celtypes.MapType({celtypes.IntType(1): celtypes.BoolType(True)})) == {"1": True}
    assert to_plain(celtypes.TimestampType("2024-05-01T10:00:00Z")) == "2024-05-01T10:00:00Z"
    assert to_plain(celtypes.DurationType(dt.timedelta(minutes=90))) == "PT1H30M"


def test_values_that_cannot_be_converted() -> None:
    with pytest.raises(EvaluationError, match="does not fit in 64 bits"):
        to_cel(-(2**64))
    with pytest.raises(EvaluationError, match="cannot be used in an expression"):
        to_cel({1, 2})
    with pytest.raises(EvaluationError, match="cannot be stored as a variable"):
        to_plain(celtypes.BytesType(b"x"))


def test_copy_plain_copies_containers() -> None:
    original = {"a": [1, {"b": 2}]}
    copy = copy_plain(original)
    assert copy == original
    copy["a"][1]["b"] = 3
    assert original["a"][1]["b"] == 2


@pytest.mark.parametrize(
    ("number", "text"), [(3, "3"), (-3, "-3"), (1.5, "1.5"), (1.0, "1.0"), (1e21, "1000000000000000000000")]
)
def test_format_number(number: float, text: str) -> None:
    assert format_number(number) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P3D", dt.timedelta(days=3)),
        ("PT1H30M", dt.timedelta(hours=1, minutes=30)),
        ("P1W", dt.timedelta(weeks=1)),
        ("PT0.5S", dt.timedelta(seconds=0.5)),
        ("-PT15M", -dt.timedelta(minutes=15)),
        ("P1DT2H3M4S", dt.timedelta(days=1, hours=2, minutes=3, seconds=4)),
    ],
)
def test_durations(text: str, expected: dt.timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


def test_duration_formats() -> None:
    assert format_duration(dt.timedelta(0)) == "PT0S"
    assert format_duration(dt.timedelta(weeks=1)) == "P7D"
    assert format_duration(-dt.timedelta(hours=1)) == "-PT1H"


@pytest.mark.parametrize("text", ["P", "PT", "P1DT", "1D", "P1.5D", "PT1H1H"])
def test_invalid_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not an ISO 8601 duration"):
        parse_duration(text)


def test_year_and_month_durations_are_refused() -> None:
    with pytest.raises(ValueError, match="years-and-months duration 'P1Y2M' is not supported"):
        parse_duration("P1Y2M")


def test_date_times() -> None:
    assert parse_datetime("2024-05-01") == dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    assert parse_datetime("2024-05-01T10:00:00Z") == dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)
    assert format_datetime(dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)) == "2024-05-01T10:00:00Z"
    assert format_datetime(dt.datetime(2024, 5, 1, 10)) == "2024-05-01T10:00:00Z"
    assert (
        format_datetime(parse_datetime("2024-05-01T10:00:00.250+02:00")) == "2024-05-01T10:00:00.250000+02:00"
    )


def test_too_deeply_nested_expressions_are_refused_at_deploy_time() -> None:
    deep = "=" + " + ".join(["name"] * 400)
    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_value(deep)
    assert compile_value("=" + " + ".join(["name"] * 100)).evaluate({"name": "a"}) == "a" * 100
