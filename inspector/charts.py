"""Charts for the Inspector drawn on the server as SVG geometry (the pages' CSP allows no script from
elsewhere, and a chart needs none): lines over time and horizontal bars. Only geometry is computed here;
templates draw it, classes style it (static/css/inspector.css)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# The drawing box of a line chart, in SVG user units (stretched to the page's width).
WIDTH, HEIGHT = 600.0, 120.0


@dataclass(frozen=True)
class Line:
    name: str  # CSS class suffix and legend entry
    label: str
    points: str  # the polyline's "x,y x,y …" (a gap, None, splits nothing: it is drawn as zero)
    last: float  # the newest value, for the legend
    peak: float


@dataclass(frozen=True)
class LineChart:
    lines: list[Line]
    top: float  # the value at the top of the box
    width: float = WIDTH
    height: float = HEIGHT


def line_chart(series: Sequence[tuple[str, str, Sequence[float | None]]]) -> LineChart:
    """(name, label, values) series of equal length on one scale: the top is a round number above the peak."""
    peak = max((v for _, _, values in series for v in values if v is not None), default=0.0)
    top = nice_ceiling(peak)
    lines = []
    for name, label, values in series:
        step = WIDTH / max(1, len(values) - 1)
        points = " ".join(f"{i * step:.1f},{HEIGHT - (v or 0.0) / top * HEIGHT:.1f}" for i, v in enumerate(values))
        known = [v for v in values if v is not None]
        lines.append(Line(name, label, points, known[-1] if known else 0.0, max(known, default=0.0)))
    return LineChart(lines, top)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^n at or above `value` (1 for nothing), so an axis reads plainly."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        candidate = factor * 10.0 ** exponent
        if candidate >= value * (1 - 1e-9):
            return candidate
    return 10.0 ** (exponent + 1)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    width: float  # percent of the widest bar's box (0..100)


def bars(items: Sequence[tuple[str, float]]) -> list[Bar]:
    """Horizontal bars scaled to the largest value."""
    peak = max((v for _, v in items), default=0.0)
    return [Bar(label, value, round(100.0 * value / peak, 2) if peak else 0.0) for label, value in items]


def trim_zero_ends(items: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    """The items from the first non-zero to the last (a histogram's empty tails say nothing)."""
    filled = [i for i, (_, v) in enumerate(items) if v]
    return list(items[filled[0]:filled[-1] + 1]) if filled else []


@dataclass(frozen=True)
class DurationBar:
    """One definition's start-to-end times: the p99 bar with the p50 bar over it, widths in percent."""

    label: str
    key: int  # the definition's key (its page)
    p50: float  # seconds
    p99: float
    count: int  # completed instances they are over
    p50_width: float
    p99_width: float


def duration_bars(items: Sequence[tuple[str, int, float, float, int]]) -> list[DurationBar]:
    """(label, key, p50, p99, count) scaled to the largest p99, so that definitions compare on one axis."""
    peak = max((p99 for *_, p99, _ in items), default=0.0)

    def width(value: float) -> float:
        return round(100.0 * value / peak, 2) if peak else 0.0

    return [DurationBar(label, key, p50, p99, n, width(p50), width(p99)) for label, key, p50, p99, n in items]
