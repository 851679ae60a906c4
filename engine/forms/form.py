"""The dialect-independent form: field tree + JSON Schema, parse and render."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.safestring import SafeString

from .coerce import CoercionError, coerce
from .fields import MISSING, Field, KeyPath, get_path, input_fields, set_path
from .render import render_form
from .validate import FORM_ERRORS, make_validator, map_errors

UTC = dt.UTC


class SubmittedValues(dict):
    """Parsed values, plus the raw text of inputs that could not be parsed.

    The dict itself only ever holds typed, valid-typed values (ready to become process
    variables once ``errors`` is empty); ``raw`` keeps what the person typed into fields
    that had no value of their type ("abc" in a number field) so a re-render shows it again.
    """

    def __init__(self, values: Mapping[str, Any] | None = None, raw: dict[str, list[str]] | None = None):
        super().__init__(values or {})
        self.raw: dict[str, list[str]] = raw or {}


class Form:
    """A form in either dialect, reduced to one field tree and one JSON Schema."""

    def __init__(
        self,
        fields: list[Field],
        schema: dict[str, Any],
        *,
        required_objects: Iterable[KeyPath] = (),
        title: str = "",
        dialect: str = "",
    ) -> None:
        self.fields = fields
        self.schema = schema
        self.title = title
        self.dialect = dialect
        # Objects that must exist even when none of their fields was filled, so that the
        # "required" errors of their children are reported on those children.
        self._required_objects = sorted(set(required_objects), key=len)
        self._inputs = list(input_fields(fields))
        self._by_key = {f.key: f for f in self._inputs}
        self._validator = make_validator(schema)  # built once: forms are parsed many times

    @property
    def inputs(self) -> list[Field]:
        """The fields that take a value, in page order."""
        return list(self._inputs)

    def field(self, name: str) -> Field:
        """The input field with this HTML name (dotted key path)."""
        for f in self._inputs:
            if f.name == name:
                return f
        raise KeyError(name)

    # -- values -------------------------------------------------------------------------

    def initial_values(self, variables: Mapping[str, Any] | None) -> dict[str, Any]:
        """Values to show first: the process variable at each key path, else the field default."""
        variables = variables or {}
        values: dict[str, Any] = {}
        for f in self._inputs:
            value = get_path(variables, f.key)
            if value is MISSING and f.default is not None:
                value = f.default
            if value is not MISSING:
                _put(values, f.key, copy.deepcopy(value))
        return values

    def redisplay_values(self, variables: Mapping[str, Any] | None, submitted: Mapping[str, Any]) -> dict:
        """Values for re-rendering a rejected submission.

        Editable fields show what was submitted; disabled/readonly fields were not taken
        from the request, so they show the process variable (or default) again.
        """
        initial = self.initial_values(variables)
        values: dict[str, Any] = {}
        for f in self._inputs:
            value = get_path(initial if f.locked else submitted, f.key)
            if value is not MISSING:
                _put(values, f.key, value)
        return SubmittedValues(values, raw=dict(getattr(submitted, "raw", {})))

    def parse(
        self, data: Mapping[str, Any], *, tz: dt.tzinfo | None = None
    ) -> tuple[SubmittedValues, dict[str, list[str]]]:
        """POST data -> (typed values as a nested dict, errors by field name).

        ``data`` is a QueryDict or any mapping of name -> list of strings (a plain string
        is accepted too). ``tz`` is the person's time zone, used for date-times entered
        without an offset (HTML datetime-local inputs); UTC by default.
        """
        tz = tz or UTC
        values: dict[str, Any] = {}
        raw_kept: dict[str, list[str]] = {}
        errors: dict[str, list[str]] = {}
        root: Any = MISSING
        for f in self._inputs:
            if f.locked:
                continue  # never trust the request for a value the person may not change
            raw = _getlist(data, f.name)
            try:
                value = coerce(f, raw, tz)
            except CoercionError as exc:
                errors[f.name] = [str(exc)]
                raw_kept[f.name] = raw
                continue
            if value is MISSING:
                continue
            if f.key == ():
                root = value  # a field bound to the whole variables object (generic form)
            else:
                set_path(values, f.key, value)

        document: Any = values if root is MISSING else root
        if isinstance(document, dict):
            self._ensure_required_objects(document)
        for name, messages in map_errors(self._validator.iter_errors(document), self._by_key).items():
            errors.setdefault(name, messages)  # a coercion error already explains its field
        errors = self._in_page_order(errors)

        if isinstance(document, dict):
            return SubmittedValues(document, raw=raw_kept), errors
        # Not an object (e.g. a JSON list typed into the variables form): keep the text only.
        for f in self._inputs:
            if f.key == ():
                raw_kept[f.name] = _getlist(data, f.name)
        return SubmittedValues({}, raw=raw_kept), errors

    def _in_page_order(self, errors: dict[str, list[str]]) -> dict[str, list[str]]:
        order = {name: i for i, name in enumerate(f.name for f in self._inputs)}
        return dict(sorted(errors.items(), key=lambda item: (item[0] != FORM_ERRORS, order.get(item[0], -1))))

    def _ensure_required_objects(self, document: dict[str, Any]) -> None:
        for path in self._required_objects:  # shortest first, so parents exist before children
            parent = get_path(document, path[:-1])
            if isinstance(parent, dict) and path[-1] not in parent:
                parent[path[-1]] = {}

    # -- output -------------------------------------------------------------------------

    def render(
        self,
        values: Mapping[str, Any] | None,
        errors: Mapping[str, list[str]] | None = None,
        *,
        tz: dt.tzinfo | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> SafeString:
        """Accessible HTML for the fields (the page supplies <form>, CSRF token and buttons).

        ``variables`` (the task's process variables) fill ``{{ name }}`` placeholders in
        static text; without them placeholders are filled from ``values``.
        """
        # `is None`, not `or`: an empty SubmittedValues still carries the raw typed text.
        return render_form(
            self,
            values if values is not None else {},
            errors or {},
            tz or UTC,
            variables if variables is not None else values or {},
        )


def _getlist(data: Mapping[str, Any], name: str) -> list[str]:
    if hasattr(data, "getlist"):
        return [str(v) for v in data.getlist(name)]
    value = data.get(name)
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _put(values: dict[str, Any], path: KeyPath, value: Any) -> None:
    if path == ():
        if isinstance(value, Mapping):
            values.update(value)
        return
    set_path(values, path, value)
