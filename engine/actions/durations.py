"""Millisecond durations from the API (locks, back-offs, times to live) as datetimes.

The Camunda API takes them as int64 milliseconds (up to ~292 million years); Python's
datetime ends in year 9999. Anything beyond a century is treated as a century.
"""

from __future__ import annotations

from datetime import datetime, timedelta

MAX_MS = 100 * 365 * 24 * 3600 * 1000


def span(ms: int | float) -> timedelta:
    return timedelta(milliseconds=min(max(ms, 0), MAX_MS))


def after(now: datetime, ms: int | float) -> datetime:
    return now + span(ms)
