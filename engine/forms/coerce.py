"""Raw POST strings -> typed JSON values, one function per field kind.

Coercion only turns text into the value type (and rejects text that has none); limits such
as minimum or pattern are left to the JSON Schema validator so they are checked once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from .fields import MISSING, Field, Option


class CoercionError(ValueError):
    """The text has no value of the field's type; the message is shown to the person."""


def coerce(field: Field, raw: list[str], tz: dt.tzinfo) -> Any:
    """Typed value of ``field`` from its submitted strings, or ``MISSING`` when left empty."""
    return _COERCERS[field.kind](field, raw, tz)


def _first(raw: list[str]) -> str:
    return raw[-1] if raw else ""  # the last value wins, as in Django's QueryDict.__getitem__


def _text(field: Field, raw: list[str], tz: dt.tzinfo) -> Any:
    value = _first(raw).strip()
    return value if value else MISSING


def _textarea(field: Field, raw: list[str], tz: dt.tzinfo) -> Any:
    # Browsers send CRLF; process variables should not depend on the person's OS.
    value = _first(raw).replace("\r\n", "\n").replace("\r", "\n").strip()
    return value if value else MISSING


def parse_number(text: str, *, integer: bool, decimal_digits: int | None = None) -> int | float:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise CoercionError("Enter a whole number." if integer else "Enter a number.") from None
    if not number.is_finite():
        raise CoercionError("Enter a number.")
    if number == number.to_integral_value():
        return int(number)  # "42" and "42.0" both become 42
    if integer:
        raise CoercionError("Enter a whole number.")
    if decimal_digits is not None and -number.normalize().as_tuple().exponent > decimal_digits:
        places = "no decimal places" if decimal_digits == 0 else f"at most {decimal_digits} decimal places"
        raise CoercionError(f"Enter a number with {places}.")
    return float(number)


def _number(field: Field, raw: list[str], tz: dt.tzinfo) -> Any:
    text = _first(raw).strip()
    if not text:
        return MISSING
    return parse_number(
        text,
        integer=field.kind == "integer",
        decimal_digits=field.constraints.get("decimalDigits"),
    )


def _checkbox(field: Field, raw: list[str], tz: dt.tzinfo) -> Any:
    # An unticked checkbox sends nothing, so absence means False rather than "left empty".
    return _first(raw).strip().lower() in {"on", "true", "1", "yes"}


def _match_option(field: Field, token: str) -> Any:
    for option in field.options:
        if option.token == token:
            return option.value
    raise CoercionError(f"Select a valid choice. {token!r} is not one of the available choices.")


def _single_choice(field: Field, raw: list[str], tz: dt.tzinfo) -> Any:
    token = _first(raw)
    if token == "":
        return MISSING
    return _match_option(field, token)


def _checklist(field: Field, raw: list[str], tz: dt.tzinfo) -> Any:
    values = []
    for token in raw:
        if token == "":
            continue
        value = _match_option(field, token)
        if value not in values:
            values.append(value)
    # Keep the order of the options, not the order the browser happened to send them in.
    order = {o.token: i for i, o in enumerate(field.options)}
    values.sort(key=lambda v: order.get(Option(v, "").token, 0))
    return values if values else MISSING


def _lines(field: Field, raw: list[str], tz: dt.tzinfo) -> Any:
    item_type = field.constraints.get("item_type", "string")
    items: list[Any] = []
    text = "\n".join(raw).replace("\r\n", "\n").replace("\r", "\n")
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        if item_type in ("number", "integer"):
            try:
                items.append(parse_number(line, integer=item_type == "integer"))
            except CoercionError as exc:
                raise CoercionError(f"Line {number}: {exc}") from None
        else:
            items.append(line)
    return items if items else MISSING


def _date(field: Field, raw: list[str], tz: dt.tzinfo) -> Any:
    value = _first(raw).strip()
    return value if value else MISSING  # stays an ISO string; the "date" format checks it


def _time(field: Field, raw: list[str], tz: dt.tzinfo) -> Any:
    value = _first(raw).strip()
    return value if value else MISSING


def _datetime(field: Field, raw: list[str], tz: dt.tzinfo) -> Any:
    text = _first(raw).strip()
    if not text:
        return MISSING
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise CoercionError("Enter a valid date and time.") from None
    if value.tzinfo is None:
        # datetime-local inputs carry no offset: the person meant their own time zone.
        value = value.replace(tzinfo=tz)
    return value.isoformat(timespec="seconds")


def _json(field: Field, raw: list[str], tz: dt.tzinfo) -> Any:
    text = _first(raw).strip()
    if not text:
        return MISSING
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CoercionError(
            f"Enter valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None


_COERCERS: dict[str, Callable[[Field, list[str], dt.tzinfo], Any]] = {
    "text": _text,
    "email": _text,
    "tel": _text,
    "textarea": _textarea,
    "number": _number,
    "integer": _number,
    "checkbox": _checkbox,
    "checklist": _checklist,
    "radio": _single_choice,
    "select": _single_choice,
    "date": _date,
    "time": _time,
    "datetime": _datetime,
    "lines": _lines,
    "json": _json,
}
