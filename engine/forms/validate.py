"""JSON Schema validation of submitted values, with errors a person understands.

Both dialects end up here: form-js forms are converted to JSON Schema, FlowSync forms are
JSON Schema already. jsonschema reports errors by instance path; this module maps each one
back to the field that owns the path and words it for the person filling the form.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from .fields import Field, KeyPath

FORM_ERRORS = ""  # errors key for problems that belong to no single field

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_TIME_RE = re.compile(r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})?$")
_PHONE_RE = re.compile(r"^\+?[0-9 ()./-]+$")


def _is_date(value: object) -> bool:
    # date.fromisoformat alone also accepts 20240501 and 2024-W18-3; forms want YYYY-MM-DD.
    if not isinstance(value, str):
        return True
    if not _DATE_RE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: object) -> bool:
    # RFC 3339: seconds and an offset are required, so the instant is unambiguous.
    if not isinstance(value, str):
        return True
    if not _DATETIME_RE.match(value):
        return False
    try:
        dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_time(value: object) -> bool:
    # Lenient on purpose: an HTML time input sends HH:MM, and form-js stores times that way.
    if not isinstance(value, str):
        return True
    if not _TIME_RE.match(value):
        return False
    try:
        dt.time.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_email(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        validate_email(value)  # Django's validator: well kept, stricter than jsonschema's "has an @"
    except DjangoValidationError:
        return False
    return True


def _is_phone(value: object) -> bool:
    if not isinstance(value, str):
        return True
    digits = sum(ch.isdigit() for ch in value)
    return bool(_PHONE_RE.match(value)) and 6 <= digits <= 15


def _format_checker() -> FormatChecker:
    checker = FormatChecker()  # keeps jsonschema's other checkers (uuid, ipv4, regex, ...)
    for name, func in (
        ("date", _is_date),
        ("date-time", _is_datetime),
        ("time", _is_time),
        ("email", _is_email),
        ("phone", _is_phone),
    ):
        checker.checks(name)(func)
    return checker


FORMAT_CHECKER = _format_checker()


def make_validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def number_text(value: Any) -> str:
    """18.0 -> "18", 0.1 -> "0.1": numbers as a person writes them."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    return str(value)


_FORMAT_MESSAGES = {
    "email": "Enter a valid email address.",
    "date": "Enter a valid date (YYYY-MM-DD).",
    "date-time": "Enter a valid date and time.",
    "time": "Enter a valid time (HH:MM).",
    "phone": "Enter a valid phone number.",
    "uri": "Enter a valid URL.",
    "uuid": "Enter a valid UUID.",
}
_TYPE_MESSAGES = {
    "integer": "Enter a whole number.",
    "number": "Enter a number.",
    "string": "Enter text.",
    "boolean": "Choose yes or no.",
    "object": "Enter a JSON object.",
    "array": "Enter a list.",
    "null": "Leave this field empty.",
}
REQUIRED = "This field is required."


def _plural(n: Any, word: str) -> str:
    return f"{number_text(n)} {word}{'' if n == 1 else 's'}"


def message_for(error: ValidationError, field: Field | None) -> str:
    """One sentence for one jsonschema error."""
    kw = error.validator
    val = error.validator_value
    if kw == "required" or kw == "dependentRequired":
        return REQUIRED
    if kw == "minimum":
        return f"Must be at least {number_text(val)}."
    if kw == "maximum":
        return f"Must be at most {number_text(val)}."
    if kw == "exclusiveMinimum":
        return f"Must be greater than {number_text(val)}."
    if kw == "exclusiveMaximum":
        return f"Must be less than {number_text(val)}."
    if kw == "multipleOf":
        return f"Must be a multiple of {number_text(val)}."
    if kw == "minLength":
        return f"Enter at least {_plural(val, 'character')}."
    if kw == "maxLength":
        return f"Enter at most {_plural(val, 'character')}."
    if kw == "pattern":
        return "Enter a value in the required format."
    if kw == "format":
        return _FORMAT_MESSAGES.get(str(val), f"Enter a valid {val}.")
    if kw == "type":
        types = [val] if isinstance(val, str) else list(val)
        types = [t for t in types if t != "null"] or types
        return (
            _TYPE_MESSAGES.get(types[0], "Enter a valid value.")
            if len(types) == 1
            else "Enter a valid value."
        )
    if kw == "enum":
        return "Select a valid choice."
    if kw == "const":
        if field is not None and field.kind == "checkbox" and val is True:
            return REQUIRED  # a required checkbox (terms accepted, ...) must be ticked
        return f"Must be {number_text(val) if not isinstance(val, str) else val}."
    if kw == "minItems":
        return f"Choose at least {_plural(val, 'item')}."
    if kw == "maxItems":
        return f"Choose at most {_plural(val, 'item')}."
    if kw == "uniqueItems":
        return "Remove the duplicate entries."
    if kw in ("minProperties", "maxProperties"):
        return f"Must have {'at least' if kw == 'minProperties' else 'at most'} {_plural(val, 'entry')}."
    if kw in ("additionalProperties", "unevaluatedProperties"):
        return "Contains entries this form does not accept."
    return "Enter a valid value."


def _error_paths(error: ValidationError) -> Iterable[tuple[Any, ...]]:
    """The instance paths an error is about; `required` names the missing child, not the parent."""
    base = tuple(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [p for p in error.validator_value if p not in error.instance]
        return [base + (p,) for p in missing] or [base]
    if error.validator == "dependentRequired" and isinstance(error.instance, dict):
        paths = [
            base + (dep,)
            for prop, deps in error.validator_value.items()
            if prop in error.instance
            for dep in deps
            if dep not in error.instance
        ]
        return paths or [base]
    return [base]


def map_errors(
    errors: Iterable[ValidationError],
    fields_by_key: dict[KeyPath, Field],
) -> dict[str, list[str]]:
    """jsonschema errors -> {field name: [messages]}; locked (disabled/readonly) fields are skipped."""
    result: dict[str, list[str]] = {}
    for error in errors:
        for path in _error_paths(error):
            field, rest = _owner(path, fields_by_key)
            if field is not None and field.locked:
                continue  # the person cannot change it, so telling them is pointless
            message = message_for(error, field)
            if rest:
                message = f"{_location(rest)}: {message}"
            name = field.name if field is not None else FORM_ERRORS
            bucket = result.setdefault(name, [])
            if message not in bucket:
                bucket.append(message)
    return result


def _owner(path: tuple[Any, ...], fields_by_key: dict[KeyPath, Field]) -> tuple[Field | None, tuple]:
    """The field owning an instance path (the longest key that is a prefix) and the remainder."""
    for cut in range(len(path), -1, -1):
        prefix = path[:cut]
        if all(isinstance(p, str) for p in prefix) and prefix in fields_by_key:
            return fields_by_key[prefix], path[cut:]
    # A whole object is wrong (e.g. missing): show it on its first field rather than nowhere.
    for key, field in fields_by_key.items():
        if key[: len(path)] == path and path:
            return field, ()
    return None, path


def _location(rest: tuple[Any, ...]) -> str:
    if len(rest) == 1 and isinstance(rest[0], int):
        return f"Item {rest[0] + 1}"
    parts = [f"item {p + 1}" if isinstance(p, int) else str(p) for p in rest]
    text = " → ".join(parts)
    return text[:1].upper() + text[1:]
