"""ISO 8601 text <-> Python date-times and durations, as process variables carry them.

Variables are JSON, so date-times and durations travel as strings ("2024-05-01T10:00:00Z",
"P3DT4H"). Expressions compute with real datetime/timedelta values and hand strings back.
Only day-time durations are supported: a month or a year has no fixed length, and FEEL's
years-and-months durations are outside the subset (the parser says so).
"""

from __future__ import annotations

import datetime as dt
import re

_DURATION = re.compile(
    r"(?P<sign>-)?P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)
_YEAR_MONTH = re.compile(r"\d+[YM]")
_UNITS = ("weeks", "days", "hours", "minutes", "seconds")


def parse_datetime(text: str) -> dt.datetime:
    """An ISO 8601 date or date-time; without an offset it is taken as UTC (the engine's zone)."""
    value = dt.datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def format_datetime(value: dt.datetime) -> str:
    """ISO 8601 with "Z" for UTC, the spelling JSON APIs and Camunda use."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_duration(text: str) -> dt.timedelta:
    """ISO 8601 day-time duration: PnW, PnDTnHnMnS (fractional seconds allowed)."""
    text = text.strip()
    match = _DURATION.fullmatch(text)
    if match is None or text.endswith("T") or not any(match.group(unit) for unit in _UNITS):
        if _YEAR_MONTH.search(text.split("T", 1)[0]):
            raise ValueError(
                f"years-and-months duration {text!r} is not supported (a month has no fixed length)"
            )
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as 'P3D' or 'PT1H30M'")
    value = dt.timedelta(**{unit: float(match.group(unit) or 0) for unit in _UNITS})
    return -value if match.group("sign") else value


def format_duration(value: dt.timedelta) -> str:
    """ISO 8601 day-time duration, e.g. P1DT2H30M, PT0.5S, -PT1H, PT0S."""
    if value < dt.timedelta(0):
        return "-" + format_duration(-value)
    days = value.days
    seconds = value.seconds
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if seconds or value.microseconds:
        whole = f"{seconds}.{value.microseconds:06d}".rstrip("0").rstrip(".")
        time += f"{whole}S"
    text = "P" + (f"{days}D" if days else "")
    if time:
        text += "T" + time
    return text if text != "P" else "PT0S"
