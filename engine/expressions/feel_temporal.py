"""FEEL's temporal values: date, time, date and time, and the two kinds of duration.

Python's datetime cannot hold what FEEL can (years beyond 1..9999, nanoseconds, a date-time
with no zone next to one with a named zone), so FEEL values are these small classes instead:

    Date(year, month, day)                         2024-05-01, -2017-12-31, 999999999-12-31
    Time(hour, minute, second, nanos, zone)        10:30:00, 10:30:00.5+02:00, 10:30:00@Europe/Paris
    DateTime(date, time)                           local when time.zone is None
    DayTime(nanos)                                 days and time duration (P1DT2H, -PT0.5S)
    YearMonth(months)                              years and months duration (P1Y2M)

`zone` is None (local), an offset in seconds (+02:00 is 7200; 0 prints as Z), or an IANA
name (resolved with zoneinfo when an instant is needed). Days are counted with the proleptic
Gregorian calendar from 1970-01-01 for any year. The values leave an evaluation as their FEEL
string() text, which is also ISO 8601 (engine variables are JSON).

Semantics follow DMN 1.5 chapter 10: comparisons of date-times and times by instant (a local
value compares only with a local value), arithmetic from the spec's tables, properties
(`d.year`, `t.time offset`, `dur.days`...). Anything else is a TypeError, which FEEL turns into
null (feel_operators explains the error policy).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NANOS = 1_000_000_000
DAY_SECONDS = 86_400
MAX_OFFSET = 18 * 3600  # ±18:00, as XML Schema and java.time allow

Zone = int | str | None


# --- calendar arithmetic (any year) -------------------------------------------------------------


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic: exact for any year)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719_468
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    mp = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def month_length(year: int, month: int) -> int:
    if month == 2:
        return 29 if is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


# --- values -------------------------------------------------------------------------------------


MAX_YEAR = 999_999_999  # the largest year FEEL (like java.time) represents


@dataclass(frozen=True, slots=True)
class Date:
    year: int
    month: int
    day: int

    def __post_init__(self) -> None:
        if abs(self.year) > MAX_YEAR:
            raise TypeError(f"the year {self.year} is out of range")

    @property
    def epoch_day(self) -> int:
        return days_from_civil(self.year, self.month, self.day)

    @staticmethod
    def of_epoch_day(days: int) -> Date:
        return Date(*civil_from_days(days))

    def __str__(self) -> str:
        year = f"{self.year:04d}" if self.year >= 0 else f"-{-self.year:04d}"
        return f"{year}-{self.month:02d}-{self.day:02d}"


@dataclass(frozen=True, slots=True)
class Time:
    hour: int
    minute: int
    second: int
    nanos: int = 0
    zone: Zone = None

    @property
    def of_day(self) -> int:
        """Nanoseconds since midnight (wall clock)."""
        return ((self.hour * 60 + self.minute) * 60 + self.second) * NANOS + self.nanos

    @staticmethod
    def of_nanos(nanos: int, zone: Zone) -> Time:
        nanos %= DAY_SECONDS * NANOS
        seconds, rest = divmod(nanos, NANOS)
        return Time(seconds // 3600, seconds // 60 % 60, seconds % 60, rest, zone)

    def clock(self) -> str:
        text = f"{self.hour:02d}:{self.minute:02d}:{self.second:02d}"
        if self.nanos:
            text += "." + f"{self.nanos:09d}".rstrip("0")
        return text

    def __str__(self) -> str:
        return self.clock() + zone_text(self.zone)


@dataclass(frozen=True, slots=True)
class DateTime:
    date: Date
    time: Time

    @property
    def zone(self) -> Zone:
        return self.time.zone

    def offset(self) -> int | None:
        """The offset from UTC in seconds at this date-time, or None when it is local."""
        zone = self.time.zone
        if zone is None or isinstance(zone, int):
            return zone
        if not 1 <= self.date.year <= 9999:
            raise TypeError(f"no offset for time zone {zone} in year {self.date.year}")
        wall = dt.datetime(self.date.year, self.date.month, self.date.day, self.time.hour, self.time.minute)
        offset = wall.replace(tzinfo=zone_info(zone)).utcoffset()
        assert offset is not None
        return int(offset.total_seconds())

    def wall_nanos(self) -> int:
        """Nanoseconds since 1970-01-01T00:00 on the wall clock (ignoring the zone)."""
        return self.date.epoch_day * DAY_SECONDS * NANOS + self.time.of_day

    def instant(self) -> int:
        """Nanoseconds since the epoch in UTC; a local date-time counts as UTC."""
        return self.wall_nanos() - (self.offset() or 0) * NANOS

    @staticmethod
    def of_wall_nanos(nanos: int, zone: Zone) -> DateTime:
        days, of_day = divmod(nanos, DAY_SECONDS * NANOS)
        return DateTime(Date.of_epoch_day(days), Time.of_nanos(of_day, zone))

    def __str__(self) -> str:
        return f"{self.date}T{self.time}"


@dataclass(frozen=True, slots=True)
class DayTime:
    """A days and time duration, in nanoseconds."""

    nanos: int

    def __str__(self) -> str:
        if self.nanos < 0:
            return "-" + str(DayTime(-self.nanos))
        seconds, rest = divmod(self.nanos, NANOS)
        days, seconds = divmod(seconds, DAY_SECONDS)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
        if seconds or rest:
            time += f"{seconds}" + ("." + f"{rest:09d}".rstrip("0") if rest else "") + "S"
        text = "P" + (f"{days}D" if days else "") + ("T" + time if time else "")
        return "PT0S" if text == "P" else text


@dataclass(frozen=True, slots=True)
class YearMonth:
    """A years and months duration, in months."""

    months: int

    def __str__(self) -> str:
        if self.months < 0:
            return "-" + str(YearMonth(-self.months))
        years, months = divmod(self.months, 12)
        text = (f"{years}Y" if years else "") + (f"{months}M" if months or not years else "")
        return "P" + text


TEMPORAL = (Date, Time, DateTime, DayTime, YearMonth)
KIND_NAMES = {
    Date: "date",
    Time: "time",
    DateTime: "date and time",
    DayTime: "days and time duration",
    YearMonth: "years and months duration",
}


def is_temporal(value: Any) -> bool:
    return isinstance(value, TEMPORAL)


@lru_cache(maxsize=256)
def zone_info(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TypeError(f"unknown time zone {name!r}") from None


def zone_text(zone: Zone) -> str:
    if zone is None:
        return ""
    if isinstance(zone, str):
        return "@" + zone
    if zone == 0:
        return "Z"
    sign = "-" if zone < 0 else "+"
    hours, rest = divmod(abs(zone), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


# --- parsing ------------------------------------------------------------------------------------

_DATE = r"(?P<year>-?\d{4,9})-(?P<month>\d\d)-(?P<day>\d\d)"
_TIME = (
    r"(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)(?:\.(?P<fraction>\d+))?"
    r"(?:(?P<utc>Z)|(?P<offset>[+-]\d\d:\d\d(?::\d\d)?)|@(?P<zone>[A-Za-z][\w/+-]*))?"
)
_DATE_RE = re.compile(_DATE)
_TIME_RE = re.compile(_TIME)
_DATETIME_RE = re.compile(_DATE + "T" + _TIME)
_DAY_TIME_RE = re.compile(
    r"(?P<sign>-)?P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?"
    r"(?:(?P<seconds>\d+)(?:\.(?P<fraction>\d+))?S)?)?"
)
_YEAR_MONTH_RE = re.compile(r"(?P<sign>-)?P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?")


def _date_of(match: re.Match[str]) -> Date:
    year_text = match.group("year")
    if year_text.lstrip("-").startswith("0") and len(year_text.lstrip("-")) > 4:
        raise ValueError("a year of more than four digits has no leading zero")
    year, month, day = int(year_text), int(match.group("month")), int(match.group("day"))
    if not 1 <= month <= 12 or not 1 <= day <= month_length(year, month):
        raise ValueError("no such day")
    return Date(year, month, day)


def parse_offset(text: str) -> int:
    sign = -1 if text[0] == "-" else 1
    parts = [int(part) for part in text[1:].split(":")]
    hours, minutes, seconds = (parts + [0])[:3]
    if minutes > 59 or seconds > 59:
        raise ValueError("bad offset")
    offset = sign * (hours * 3600 + minutes * 60 + seconds)
    if abs(offset) > MAX_OFFSET:
        raise ValueError("an offset is at most 18 hours")
    return offset


def _time_of(match: re.Match[str]) -> Time:
    hour, minute, second = int(match.group("hour")), int(match.group("minute")), int(match.group("second"))
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError("no such time")
    fraction = match.group("fraction") or ""
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    zone: Zone = None
    if match.group("utc"):
        zone = 0
    elif match.group("offset"):
        zone = parse_offset(match.group("offset"))
    elif match.group("zone"):
        zone = match.group("zone")
        zone_info(zone)  # unknown names are an error here, not later
    return Time(hour, minute, second, nanos, zone)


def parse_date(text: str) -> Date:
    match = _DATE_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a date such as 2024-05-01")
    return _date_of(match)


def parse_time(text: str) -> Time:
    match = _TIME_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a time such as 10:30:00")
    return _time_of(match)


def parse_date_time(text: str) -> DateTime:
    """A date-time, or a date alone (midnight, local), as date and time() reads them."""
    match = _DATETIME_RE.fullmatch(text)
    if match is not None:
        return DateTime(_date_of(match), _time_of(match))
    if _DATE_RE.fullmatch(text):
        return DateTime(parse_date(text), Time(0, 0, 0))
    raise ValueError(f"{text!r} is not an ISO 8601 date and time such as 2024-05-01T10:00:00Z")


def parse_duration(text: str) -> DayTime | YearMonth:
    match = _DAY_TIME_RE.fullmatch(text)
    if match is not None and text.rstrip("-P") and not text.endswith("T"):
        seconds = int(match.group("seconds") or 0)
        seconds += 60 * int(match.group("minutes") or 0) + 3600 * int(match.group("hours") or 0)
        seconds += DAY_SECONDS * int(match.group("days") or 0)
        fraction = match.group("fraction") or ""
        nanos = seconds * NANOS + (int((fraction + "000000000")[:9]) if fraction else 0)
        return DayTime(-nanos if match.group("sign") else nanos)
    match = _YEAR_MONTH_RE.fullmatch(text)
    if match is not None and text.rstrip("-P"):
        months = 12 * int(match.group("years") or 0) + int(match.group("months") or 0)
        return YearMonth(-months if match.group("sign") else months)
    raise ValueError(f"{text!r} is not a duration such as P1DT2H or P1Y2M")


def parse_literal(text: str) -> Any:
    """An @"..." literal: whichever temporal value its text is."""
    if text.startswith(("P", "-P")):
        return parse_duration(text)
    if _DATE_RE.fullmatch(text):
        return parse_date(text)
    if "T" in text:
        return parse_date_time(text)
    return parse_time(text)


# --- conversions from Python values -------------------------------------------------------------


def from_python(value: Any) -> Any:
    """Python datetime/date/time/timedelta (e.g. the engine clock) as FEEL values; others unchanged."""
    if isinstance(value, dt.datetime):
        zone: Zone = None
        if value.tzinfo is not None:
            offset = value.utcoffset()
            zone = int(offset.total_seconds()) if offset is not None else None
        date = Date(value.year, value.month, value.day)
        return DateTime(date, Time(value.hour, value.minute, value.second, value.microsecond * 1000, zone))
    if isinstance(value, dt.date):
        return Date(value.year, value.month, value.day)
    if isinstance(value, dt.timedelta):
        return DayTime((value.days * DAY_SECONDS + value.seconds) * NANOS + value.microseconds * 1000)
    return value


# --- comparison ---------------------------------------------------------------------------------


def _time_key(value: Time) -> int:
    offset = value.zone
    if isinstance(offset, str):
        # A time with a zone name has no date to pick an offset by: take the zone's offset on a
        # fixed day (2000-01-01), so the answer never depends on when it is computed.
        fixed = dt.datetime(2000, 1, 1, value.hour, value.minute, tzinfo=zone_info(offset)).utcoffset()
        offset = int(fixed.total_seconds()) if fixed is not None else 0
    return value.of_day - (offset or 0) * NANOS


def order_key(value: Any) -> tuple[str, Any]:
    """What a temporal value is ordered by, and the kind of values it can be compared with."""
    if isinstance(value, Date):
        return "date", value.epoch_day
    if isinstance(value, DateTime):
        return ("date and time" if value.zone is not None else "local date and time"), value.instant()
    if isinstance(value, Time):
        return ("time" if value.zone is not None else "local time"), _time_key(value)
    if isinstance(value, DayTime):
        return "days and time duration", value.nanos
    if isinstance(value, YearMonth):
        return "years and months duration", value.months
    raise TypeError(f"{value!r} is not a temporal value")


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1; TypeError when the two cannot be compared (FEEL: null)."""
    a, b = from_python(a), from_python(b)
    if not (is_temporal(a) and is_temporal(b)):
        raise TypeError(f"cannot compare {_describe(a)} with {_describe(b)}")
    kind_a, key_a = order_key(a)
    kind_b, key_b = order_key(b)
    if kind_a != kind_b:
        if {kind_a, kind_b} <= {"date and time", "local date and time"} or {kind_a, kind_b} <= {"time", "local time"}:
            raise TypeError("cannot compare a value with a time zone to one without")
        raise TypeError(f"cannot compare {kind_name(a)} with {kind_name(b)}")
    return (key_a > key_b) - (key_a < key_b)


def equal(a: Any, b: Any) -> bool:
    try:
        return compare(a, b) == 0
    except TypeError:
        return False


def identical(a: Any, b: Any) -> bool:
    """is(a, b): the same kind, the same value and the same zone."""
    a, b = from_python(a), from_python(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, Time | DateTime) and a.zone != b.zone:
        return False
    return equal(a, b)


def kind_name(value: Any) -> str:
    return KIND_NAMES.get(type(value), type(value).__name__)


def _describe(value: Any) -> str:
    if isinstance(value, DateTime):
        return "date-time"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "context"
    return kind_name(value)


# --- arithmetic ---------------------------------------------------------------------------------


def _plus_months(date: Date, months: int) -> Date:
    total = date.year * 12 + (date.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    return Date(year, month, min(date.day, month_length(year, month)))


def _date_time(value: Date | DateTime) -> DateTime:
    return value if isinstance(value, DateTime) else DateTime(value, Time(0, 0, 0, 0, None))


def add(a: Any, b: Any) -> Any:
    a, b = from_python(a), from_python(b)
    if isinstance(a, DayTime | YearMonth) and not isinstance(b, DayTime | YearMonth):
        a, b = b, a
    if isinstance(a, DayTime) and isinstance(b, DayTime):
        return DayTime(a.nanos + b.nanos)
    if isinstance(a, YearMonth) and isinstance(b, YearMonth):
        return YearMonth(a.months + b.months)
    if isinstance(a, DateTime) and isinstance(b, YearMonth):
        return DateTime(_plus_months(a.date, b.months), a.time)
    if isinstance(a, Date) and isinstance(b, YearMonth):
        return _plus_months(a, b.months)
    if isinstance(a, DateTime) and isinstance(b, DayTime):
        if isinstance(a.zone, str):
            moved = DateTime.of_wall_nanos(a.instant() + b.nanos, 0)
            return _in_zone(moved, a.zone)
        return DateTime.of_wall_nanos(a.wall_nanos() + b.nanos, a.zone)
    if isinstance(a, Date) and isinstance(b, DayTime):
        return DateTime.of_wall_nanos(_date_time(a).wall_nanos() + b.nanos, None).date
    if isinstance(a, Time) and isinstance(b, DayTime):
        return Time.of_nanos(a.of_day + b.nanos, a.zone)
    raise TypeError(f"cannot add {kind_name(a)} and {kind_name(b)}")


def _in_zone(utc: DateTime, zone: str) -> DateTime:
    if not 1 <= utc.date.year <= 9999:
        raise TypeError("date out of range for a named time zone")
    moment = dt.datetime(
        utc.date.year, utc.date.month, utc.date.day, utc.time.hour, utc.time.minute, utc.time.second, tzinfo=dt.UTC
    ).astimezone(zone_info(zone))
    return DateTime(
        Date(moment.year, moment.month, moment.day),
        Time(moment.hour, moment.minute, moment.second, utc.time.nanos, zone),
    )


def negate(a: Any) -> Any:
    a = from_python(a)
    if isinstance(a, DayTime):
        return DayTime(-a.nanos)
    if isinstance(a, YearMonth):
        return YearMonth(-a.months)
    raise TypeError(f"cannot negate {kind_name(a)}")


def subtract(a: Any, b: Any) -> Any:
    a, b = from_python(a), from_python(b)
    if isinstance(b, DayTime | YearMonth) and not isinstance(a, DayTime | YearMonth):
        return add(a, negate(b))
    if isinstance(a, DayTime) and isinstance(b, DayTime):
        return DayTime(a.nanos - b.nanos)
    if isinstance(a, YearMonth) and isinstance(b, YearMonth):
        return YearMonth(a.months - b.months)
    if isinstance(a, Date | DateTime) and isinstance(b, Date | DateTime):
        left, right = _date_time(a), _date_time(b)
        if (left.zone is None) != (right.zone is None):
            # DMN 1.5: a local date-time subtracted from a zoned one is read in the other's zone.
            if left.zone is None:
                left = DateTime(left.date, Time(*_fields(left.time), right.zone))
            else:
                right = DateTime(right.date, Time(*_fields(right.time), left.zone))
        return DayTime(left.instant() - right.instant())
    if isinstance(a, Time) and isinstance(b, Time):
        if (a.zone is None) != (b.zone is None):
            raise TypeError("cannot subtract a time with a zone and one without")
        return DayTime(_time_key(a) - _time_key(b))
    raise TypeError(f"cannot subtract {kind_name(b)} from {kind_name(a)}")


def _fields(time: Time) -> tuple[int, int, int, int]:
    return time.hour, time.minute, time.second, time.nanos


def multiply(a: Any, b: Any) -> Any:
    """A duration times a number (either order)."""
    a, b = from_python(a), from_python(b)
    if not isinstance(a, DayTime | YearMonth):
        a, b = b, a
    factor = _factor(b)
    if isinstance(a, DayTime):
        return DayTime(int(Decimal(a.nanos) * factor))
    if isinstance(a, YearMonth):
        return YearMonth(int(Decimal(a.months) * factor))
    raise TypeError(f"cannot multiply {kind_name(a)} by {kind_name(b)}")


def divide(a: Any, b: Any) -> Any:
    a, b = from_python(a), from_python(b)
    if isinstance(a, DayTime) and isinstance(b, DayTime):
        if not b.nanos:
            raise TypeError("division by zero")
        return _number(Decimal(a.nanos) / Decimal(b.nanos))
    if isinstance(a, YearMonth) and isinstance(b, YearMonth):
        if not b.months:
            raise TypeError("division by zero")
        return _number(Decimal(a.months) / Decimal(b.months))
    if isinstance(a, DayTime | YearMonth):
        divisor = _factor(b)
        if not divisor:
            raise TypeError("division by zero")
        if isinstance(a, DayTime):
            return DayTime(int(Decimal(a.nanos) / divisor))
        return YearMonth(int(Decimal(a.months) / divisor))
    raise TypeError(f"cannot divide {kind_name(a)} by {kind_name(b)}")


def _factor(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a duration can only be multiplied or divided by a number, not {kind_name(value)}")
    return Decimal(str(value)) if isinstance(value, float) else Decimal(value)


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# --- properties ---------------------------------------------------------------------------------


def member(value: Any, key: str) -> Any:
    """`value.key` for a temporal value; None when the property does not exist."""
    value = from_python(value)
    date = value.date if isinstance(value, DateTime) else value if isinstance(value, Date) else None
    time = value.time if isinstance(value, DateTime) else value if isinstance(value, Time) else None
    if date is not None:
        if key == "year":
            return date.year
        if key == "month":
            return date.month
        if key == "day":
            return date.day
        if key == "weekday":
            return (date.epoch_day + 3) % 7 + 1  # 1970-01-01 was a Thursday; Monday is 1
    if time is not None:
        if key == "hour":
            return time.hour
        if key == "minute":
            return time.minute
        if key == "second":
            return time.second
        if key == "time offset":
            if isinstance(value, DateTime) and time.zone is not None:
                return DayTime(value.offset() * NANOS)  # type: ignore[operator]
            return DayTime(time.zone * NANOS) if isinstance(time.zone, int) else None
        if key == "timezone":
            return time.zone if isinstance(time.zone, str) else None
    if isinstance(value, DayTime):
        sign = -1 if value.nanos < 0 else 1
        seconds = abs(value.nanos) // NANOS
        parts = {
            "days": seconds // DAY_SECONDS,
            "hours": seconds // 3600 % 24,
            "minutes": seconds // 60 % 60,
            "seconds": seconds % 60,
        }
        if key in parts:
            return sign * parts[key]
    if isinstance(value, YearMonth):
        sign = -1 if value.months < 0 else 1
        if key == "years":
            return sign * (abs(value.months) // 12)
        if key == "months":
            return sign * (abs(value.months) % 12)
    raise TypeError(f"{kind_name(value)} has no property {key!r}")


# --- constructors (the built-in functions' logic) -----------------------------------------------


def date_of(value: Any) -> Date:
    value = from_python(value)
    if isinstance(value, Date):
        return value
    if isinstance(value, DateTime):
        return value.date
    if isinstance(value, str):
        if _DATETIME_RE.fullmatch(value):
            # Process variables carry date-times as text; Camunda's date() takes their date too.
            return parse_date_time(value).date
        return parse_date(value)
    raise TypeError(f"date() cannot convert {_describe(value)}")


def date_from_parts(year: Any, month: Any, day: Any) -> Date:
    year, month, day = (_whole(part, "date()") for part in (year, month, day))
    if not 1 <= month <= 12 or not 1 <= day <= month_length(year, month):
        raise TypeError("date() got a day that does not exist")
    return Date(year, month, day)


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise TypeError(f"{name} expects whole numbers")
    return int(value)


def time_of(value: Any) -> Time:
    value = from_python(value)
    if isinstance(value, Time):
        return value
    if isinstance(value, DateTime):
        return value.time
    if isinstance(value, Date):
        return Time(0, 0, 0, 0, 0)
    if isinstance(value, str):
        return parse_time(value)
    raise TypeError(f"time() cannot convert {_describe(value)}")


def time_from_parts(hour: Any, minute: Any, second: Any, offset: Any = None) -> Time:
    h, m = _whole(hour, "time()"), _whole(minute, "time()")
    if isinstance(second, bool) or not isinstance(second, int | float):
        raise TypeError("time() expects numbers")
    exact = Decimal(str(second)) if isinstance(second, float) else Decimal(second)
    whole = int(exact)
    nanos = int((exact - whole) * NANOS)
    if not (0 <= h <= 23 and 0 <= m <= 59 and 0 <= whole <= 59):
        raise TypeError("time() got a time that does not exist")
    zone: Zone = None
    if offset is not None:
        offset = from_python(offset)
        if not isinstance(offset, DayTime) or offset.nanos % NANOS or abs(offset.nanos) > MAX_OFFSET * NANOS:
            raise TypeError("time() expects an offset as a days and time duration within 18 hours")
        zone = offset.nanos // NANOS
    return Time(h, m, whole, nanos, zone)


def date_time_of(value: Any) -> DateTime:
    value = from_python(value)
    if isinstance(value, DateTime):
        return value
    if isinstance(value, Date):
        return DateTime(value, Time(0, 0, 0))
    if isinstance(value, str):
        return parse_date_time(value)
    raise TypeError(f"date and time() cannot convert {_describe(value)}")


def date_time_from(date: Any, time: Any) -> DateTime:
    date, time = from_python(date), from_python(time)
    if not isinstance(date, Date | DateTime) or not isinstance(time, Time):
        raise TypeError("date and time(date, time) expects a date and a time")
    return DateTime(date if isinstance(date, Date) else date.date, time)


def duration_of(value: Any) -> DayTime | YearMonth:
    value = from_python(value)
    if isinstance(value, DayTime | YearMonth):
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise TypeError(f"duration() cannot convert {_describe(value)}")


def months_between(start: Any, end: Any) -> YearMonth:
    """years and months duration(from, to): whole months from one date (or date-time) to another."""
    start, end = from_python(start), from_python(end)
    if not isinstance(start, Date | DateTime) or not isinstance(end, Date | DateTime):
        raise TypeError("years and months duration() expects two dates or date-times")
    a, b = _date_time(start), _date_time(end)
    months = (b.date.year - a.date.year) * 12 + (b.date.month - a.date.month)
    # A month counts only when its day is reached, in either direction (the time of day is ignored).
    rest_a, rest_b = a.date.day, b.date.day
    if months > 0 and rest_b < rest_a:
        months -= 1
    elif months < 0 and rest_b > rest_a:
        months += 1
    return YearMonth(months)
