"""What a declared typeRef does to a value (DMN 1.5, 7.3.2 and 10.3.2.9.4).

Inputs arrive as JSON, so a date, time or duration is text: an input data declared as
`date` (or `dateTime`, `time`, a duration type) turns its text into the FEEL value, and text
that is not one becomes null. A decision's result is converted from a singleton list when its
type is not a list (`["John"]` -> "John"), and is null when it does not conform to a built-in
type it declares (a boolean where a string is declared). Types this engine does not model
(item definitions with components, collections, unknown names) leave values as they are.
"""

from __future__ import annotations

from typing import Any

from engine.expressions import feel_temporal
from engine.expressions.feel_operators import instance_of

_NAMES = {
    "dateTime": "date and time",
    "dayTimeDuration": "days and time duration",
    "yearMonthDuration": "years and months duration",
}
_SIMPLE = frozenset(
    {
        "string",
        "number",
        "boolean",
        "date",
        "time",
        "date and time",
        "days and time duration",
        "years and months duration",
        "context",
        "list",
    }
)
_TEMPORAL = {
    "date": feel_temporal.parse_date,
    "time": feel_temporal.parse_time,
    "date and time": feel_temporal.parse_date_time,
    "days and time duration": feel_temporal.parse_duration,
    "years and months duration": feel_temporal.parse_duration,
}


def feel_type(type_ref: str | None) -> str | None:
    """The FEEL type a typeRef names ("feel:dateTime" -> "date and time"), None when not built in."""
    if not type_ref:
        return None
    name = type_ref.split(":", 1)[1] if type_ref.startswith(("feel:", "xsd:")) else type_ref
    name = _NAMES.get(name, name)
    return name if name in _SIMPLE else None


def coerce_input(value: Any, type_ref: str | None) -> Any:
    kind = feel_type(type_ref)
    if kind is None or value is None:
        return value
    if isinstance(value, str) and kind in _TEMPORAL:
        try:
            value = _TEMPORAL[kind](value)
        except (ValueError, TypeError):
            return None
    return value if instance_of(value, kind) else None


def coerce_result(value: Any, type_ref: str | None) -> Any:
    kind = feel_type(type_ref)
    if kind is None or value is None:
        return value
    if kind != "list" and isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value if instance_of(value, kind) else None
