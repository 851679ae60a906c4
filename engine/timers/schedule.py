"""Timer specifications: ISO 8601 dates, durations and repeating cycles, and cron.

`first_due` answers when a timer defined at `now` first fires and how many times it
repeats; `next_due` the following due time of a cycle. Pure functions of their inputs,
so the engine stays deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


class TimerSpecError(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    kind: str  # "date" | "duration" | "cycle"
    value: str


def parse_duration(text: str) -> timedelta:
    m = _DURATION.match(text.strip())
    if not m or text.strip() in ("P", "PT") or text.strip().endswith("T"):
        raise TimerSpecError(f"'{text}' is not an ISO 8601 duration (e.g. PT10M, P1DT2H)")
    parts = {k: float(v) for k, v in m.groupdict().items() if v and k != "sign"}
    # Months and years have no fixed length; Camunda counts them as 30 and 365 days here too.
    days = parts.get("years", 0) * 365 + parts.get("months", 0) * 30 + parts.get("weeks", 0) * 7 + parts.get("days", 0)
    delta = timedelta(
        days=days, hours=parts.get("hours", 0), minutes=parts.get("minutes", 0), seconds=parts.get("seconds", 0)
    )
    return -delta if m.group("sign") else delta


def parse_date(text: str) -> datetime:
    value, _, zone_name = text.strip().partition("@")  # 2026-12-01T09:00:00@Europe/Berlin, as FEEL writes it
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
        zone = ZoneInfo(zone_name) if zone_name else None
    except (ValueError, ZoneInfoNotFoundError):
        raise TimerSpecError(f"'{text}' is not an ISO 8601 date-time (e.g. 2026-12-01T09:00:00Z)") from None
    if zone is not None and parsed.tzinfo is None:
        return parsed.replace(tzinfo=zone)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _cron_zone(value: str) -> tuple[str, ZoneInfo | None]:
    """A cron line and its time zone: `TZ=Europe/Berlin 0 9 * * *` (JSON flows' schedules), else UTC."""
    if not value.startswith("TZ="):
        return value, None
    zone, _, cron = value[3:].partition(" ")
    try:
        return cron.strip(), ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimerSpecError(f"'{zone}' is not a known time zone (e.g. Europe/Berlin)") from None


def _next_cron(value: str, after: datetime) -> datetime:
    cron, zone = _cron_zone(value)
    if zone is None:
        return croniter(cron, after).get_next(datetime)
    # Ticks are wall-clock times in the zone (09:00 stays 09:00 across daylight saving changes).
    return croniter(cron, after.astimezone(zone)).get_next(datetime).astimezone(UTC)


def _parse_cycle(text: str) -> tuple[int, datetime | None, timedelta | None, str | None]:
    """(repetitions, start, interval, cron): R3/PT10M, R/PT1H, R2/2026-01-01T00:00Z/PT1H, or a cron line."""
    value = text.strip()
    if not value.upper().startswith("R") or value.startswith("TZ="):
        if not croniter.is_valid(_cron_zone(value)[0]):
            raise TimerSpecError(f"'{text}' is neither an ISO 8601 cycle (R3/PT10M) nor a cron expression")
        return -1, None, None, value
    parts = value.split("/")
    head = parts[0][1:]
    reps = int(head) if head else -1
    if head and not head.isdigit():
        raise TimerSpecError(f"'{text}': the repetition count after R must be a number")
    if len(parts) == 2:
        return reps, None, parse_duration(parts[1]), None
    if len(parts) == 3:
        return reps, parse_date(parts[1]), parse_duration(parts[2]), None
    raise TimerSpecError(f"'{text}' is not an ISO 8601 repeating interval (R3/PT10M)")


def validate(kind: str, value: str) -> None:
    """Raise TimerSpecError unless a static value is well formed (expressions are checked when evaluated)."""
    {"date": parse_date, "duration": parse_duration, "cycle": _parse_cycle}[kind](value)


def first_due(kind: str, value: str, now: datetime) -> tuple[datetime, int]:
    """When a timer created at `now` fires first, and how many times in all (-1 = forever)."""
    if kind == "date":
        return parse_date(value), 1
    if kind == "duration":
        return now + parse_duration(value), 1
    reps, start, interval, cron = _parse_cycle(value)
    if cron is not None:
        return _next_cron(cron, now), -1
    assert interval is not None
    interval = _at_least_minimum(interval)
    if start is not None:
        return (start if start > now else now + interval), reps
    return now + interval, reps


def next_due(value: str, previous_due: datetime) -> datetime:
    """The next due time of a cycle after one fired at `previous_due`."""
    _, _, interval, cron = _parse_cycle(value)
    if cron is not None:
        return _next_cron(cron, previous_due)
    assert interval is not None
    return previous_due + _at_least_minimum(interval)


def _at_least_minimum(interval: timedelta) -> timedelta:
    """A cycle repeats no faster than FLOWSYNC_ENGINE_MIN_TIMER_CYCLE_SECONDS: R/PT0S would fire without end."""
    from django.conf import settings

    return max(interval, timedelta(seconds=settings.ENGINE_MIN_TIMER_CYCLE_SECONDS))
