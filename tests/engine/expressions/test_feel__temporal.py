"""FEEL temporal values: date, time, date and time (local, offset, IANA zone), both durations."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.expressions import compile_feel, compile_value
from engine.expressions.feel_temporal import Date, DateTime, DayTime, Time, YearMonth, parse_literal
from engine.timers import schedule
from tests.engine.expressions.support import null_with_warning, runner  # noqa: F401 (runs each test under both runners)

ERROR = "error"  # FEEL's null for a type error, with a warning that says why
NOW = dt.datetime(2024, 5, 1, 12, 30, 15, tzinfo=dt.UTC)


def value(text: str, variables: dict[str, object] | None = None) -> object:
    return compile_value(text).evaluate(variables or {}, now=NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # constructors and @-literals, written back as FEEL's string() does
        ('=date("2024-02-29")', "2024-02-29"),
        ("=date(2017, 8, 30)", "2017-08-30"),
        ('=date("-2017-12-31")', "-2017-12-31"),
        ('=date("999999999-12-31")', "999999999-12-31"),
        ('=time("10:30:00")', "10:30:00"),
        ('=time("10:30:00.1200+02:00")', "10:30:00.12+02:00"),
        ("=time(23, 59, 0.5)", "23:59:00.5"),
        ('=time(10, 0, 0, duration("PT2H"))', "10:00:00+02:00"),
        ('=@"10:30:11@Australia/Melbourne"', "10:30:11@Australia/Melbourne"),
        ('=date and time("2018-12-08T10:30:11")', "2018-12-08T10:30:11"),
        ('=date and time("2018-12-08T10:30:11.123456789+00:00")', "2018-12-08T10:30:11.123456789Z"),
        ('=date and time("2011-12-31T10:15:30@Europe/Paris")', "2011-12-31T10:15:30@Europe/Paris"),
        ('=date and time(date("2017-01-01"), time("23:59:01"))', "2017-01-01T23:59:01"),
        ('=date and time("2017-01-01")', "2017-01-01T00:00:00"),
        ('=duration("P1DT2H30M")', "P1DT2H30M"),
        ('=duration("-PT0.5S")', "-PT0.5S"),
        ('=duration("P14M")', "P1Y2M"),
        ('=duration("P0Y")', "P0M"),
        ('=years and months duration(date("2011-12-22"), date("2013-08-24"))', "P1Y8M"),
        ('=years and months duration(date("2013-08-24"), date("2011-12-22"))', "-P1Y8M"),
        # arithmetic
        ('=date("2024-01-31") + duration("P1M")', "2024-02-29"),
        ('=date and time("2024-01-31T10:00:00") + duration("P1Y")', "2025-01-31T10:00:00"),
        ('=date and time("2024-03-30T23:00:00Z") + duration("PT2H")', "2024-03-31T01:00:00Z"),
        ('=date and time("2024-03-31T01:30:00@Europe/Paris") + duration("PT1H")', "2024-03-31T03:30:00@Europe/Paris"),
        ('=date("2024-03-01") - date("2024-02-01")', "P29D"),
        ('=date and time("2024-05-01T12:00:00+02:00") - date and time("2024-05-01T09:00:00Z")', "PT1H"),
        ('=time("23:30:00") + duration("PT1H")', "00:30:00"),
        ('=duration("P1D") * 1.5', "P1DT12H"),
        ('=duration("P1Y") / 4', "P3M"),
        ('=duration("P1D") / duration("PT6H")', 4),
        ('=-duration("P1Y")', "-P1Y"),
        # comparisons: by instant, a local value only with a local value
        ('=date and time("2024-05-01T12:00:00+02:00") = date and time("2024-05-01T10:00:00Z")', True),
        ('=date and time("2024-05-01T12:00:00") = date and time("2024-05-01T12:00:00Z")', False),
        ('=date and time("2024-05-01T12:00:00") < date and time("2024-05-01T12:00:00Z")', ERROR),
        ('=time("10:00:00+01:00") < time("10:00:00Z")', True),
        ('=duration("P1Y") > duration("P11M")', True),
        ('=duration("P1Y") > duration("P300D")', ERROR),
        ('=date("2024-05-01") between date("2024-01-01") and date("2024-12-31")', True),
        # properties
        ('=date("2024-05-01").weekday', 3),
        ('=date and time("2024-05-01T10:20:30+05:30").time offset', "PT5H30M"),
        ('=date and time("2024-05-01T10:20:30@Europe/Paris").timezone', "Europe/Paris"),
        ('=date and time("2024-01-01T10:20:30@Europe/Paris").time offset', "PT1H"),
        ('=time("10:20:30").time offset', None),
        ('=duration("P1DT25H").days', 2),
        ('=duration("-P2Y3M").months', -3),
        # is(): the same value and the same zone
        ('=is(time("10:00:00Z"), time("10:00:00@Etc/UTC"))', False),
        ('=is(date("2024-05-01"), date("2024-05-01"))', True),
        ('=day of week(date("2024-05-01"))', "Wednesday"),
        ('=min([date("2020-01-01"), date("2019-01-01")])', "2019-01-01"),
        ('=max(@"P1D", @"PT25H")', "P1DT1H"),
        ('=sort([@"10:00:00", @"09:00:00"])', ["09:00:00", "10:00:00"]),
        ('=week of year(date("2021-01-03"))', 53),
        ('=string(date and time("2024-05-01T10:00:00.5Z"))', "2024-05-01T10:00:00.5Z"),
    ],
)
def test_temporal_values(text: str, expected: object) -> None:
    if expected == ERROR:
        null_with_warning(text, match="cannot compare")
    else:
        assert value(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '=date("2017-02-29")',
        '=date("2012-12-25T")',
        '=time("24:00:01")',
        '=date and time("2017-12-31T13:20:00+19:00")',
        '=date and time("2017-12-31T13:20:00@Mars/Base")',
        '=duration("P1Y2D")',
        "=date(-1000999999, 12, 1)",
    ],
)
def test_text_that_is_no_temporal_value_is_null_with_a_warning(text: str) -> None:
    null_with_warning(text, match=r"^(date|time|date and time|duration)\(\): |time zone|out of range")


def test_now_and_today_are_temporal_values_of_the_engine_clock() -> None:
    assert value("=now()") == "2024-05-01T12:30:15Z"
    assert value("=today()") == "2024-05-01"
    assert value("=today() instance of date") is True
    assert value("=now() - duration(\"P1D\") < now()") is True


def test_feel_values_keep_their_kind_for_further_feel() -> None:
    expression = compile_feel('date("2024-05-01") + duration("P1M")')
    assert expression.evaluate({}, feel_values=True) == Date(2024, 6, 1)
    assert expression.evaluate({}) == "2024-06-01"
    later = compile_feel("d + duration(\"P1D\")").evaluate({"d": Date(2024, 6, 1)}, feel_values=True)
    assert later == Date(2024, 6, 2)


def test_literals_parse_by_shape() -> None:
    assert parse_literal("P1Y") == YearMonth(12)
    assert parse_literal("PT1M") == DayTime(60 * 10**9)
    assert parse_literal("10:00:00Z") == Time(10, 0, 0, 0, 0)
    assert parse_literal("2024-05-01T10:00:00@Etc/GMT") == DateTime(Date(2024, 5, 1), Time(10, 0, 0, 0, "Etc/GMT"))


def test_a_zoned_feel_date_time_is_a_timer_date() -> None:
    text = value('=date and time("2026-07-01T09:00:00@Europe/Berlin")')
    assert text == "2026-07-01T09:00:00@Europe/Berlin"
    assert schedule.parse_date(str(text)) == dt.datetime(2026, 7, 1, 7, 0, tzinfo=dt.UTC)
    assert schedule.parse_date(str(value('=date and time("2026-07-01T09:00:00")'))) == dt.datetime(
        2026, 7, 1, 9, 0, tzinfo=dt.UTC
    )  # a local date-time is taken as UTC, the engine's zone
