"""The normalized field tree that both form dialects are converted into.

One renderer and one parser work on these dataclasses, whatever the form was written in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import FormDefinitionError

KeyPath = tuple[str, ...]

# Kinds that take input and produce a value.
INPUT_KINDS = frozenset(
    {
        "text",  # single-line text
        "email",
        "tel",
        "textarea",
        "number",
        "integer",
        "checkbox",  # -> bool
        "checklist",  # several options -> list
        "radio",
        "select",
        "date",  # ISO date string
        "time",  # HH:MM[:SS]
        "datetime",  # RFC 3339 date-time string
        "lines",  # free list of simple values, one per line
        "json",  # any JSON value typed as text (fallback and the generic variables form)
    }
)
# Kinds that only structure or decorate the page.
DISPLAY_KINDS = frozenset({"group", "static_text", "spacer", "separator", "unsupported"})
KINDS = INPUT_KINDS | DISPLAY_KINDS


@dataclass(frozen=True)
class Option:
    """One choice of a radio, select or checklist. ``value`` keeps its JSON type."""

    value: Any
    label: str

    @property
    def token(self) -> str:
        """The string sent by the browser for this option."""
        return option_token(self.value)


def option_token(value: Any) -> str:
    # JSON spelling so that 1, "1" and true stay distinguishable in the submitted form.
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return str(value)


@dataclass
class Field:
    """One node of a form: an input, a group of inputs, or static content.

    ``key`` is the path of the value in the process variables (``("customer", "city")``);
    groups carry the path their children live under (may be empty for purely visual groups);
    static content has an empty key.
    """

    kind: str
    key: KeyPath = ()
    label: str = ""
    description: str = ""
    required: bool = False
    default: Any = None
    options: list[Option] = field(default_factory=list)
    # Validation and widget hints: minLength, maxLength, pattern, minimum, maximum,
    # exclusiveMinimum, exclusiveMaximum, decimalDigits, format, item_type, rows.
    constraints: dict[str, Any] = field(default_factory=dict)
    children: list[Field] = field(default_factory=list)
    disabled: bool = False  # shown, never taken from input
    readonly: bool = False  # shown, never taken from input (rendered as readonly, not greyed out)
    text: str = ""  # static text content, or the explanation of an unsupported field
    layout: dict[str, Any] = field(default_factory=dict)  # form-js grid hint: row, columns
    source_type: str = ""  # the type name in the source dialect, for messages
    conditional: bool = False  # form-js `conditional.hide`: visibility we cannot evaluate
    name: str = ""  # HTML input name; defaults to the dotted key path

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")
        if not self.name:
            self.name = ".".join(self.key)

    @property
    def is_input(self) -> bool:
        return self.kind in INPUT_KINDS

    @property
    def locked(self) -> bool:
        """True when the value is shown but must not be taken from the request."""
        return self.disabled or self.readonly


def walk(fields: list[Field]) -> Iterator[Field]:
    """All fields, depth first, in page order."""
    for f in fields:
        yield f
        yield from walk(f.children)


def input_fields(fields: list[Field]) -> Iterator[Field]:
    return (f for f in walk(fields) if f.is_input)


MISSING = object()


def get_path(data: Any, path: KeyPath) -> Any:
    """The value at ``path`` in nested dicts, or ``MISSING``."""
    current = data
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            return MISSING
        current = current[part]
    return current


def set_path(data: dict[str, Any], path: KeyPath, value: Any) -> None:
    """Set ``value`` at ``path``, creating intermediate dicts (the paths were checked for conflicts)."""
    current = data
    for part in path[:-1]:
        nxt = current.get(part)
        if not isinstance(nxt, dict):
            nxt = current[part] = {}
        current = nxt
    current[path[-1]] = value


def humanize(name: str) -> str:
    """``first_name`` / ``firstName`` -> ``First name``: a label when a schema gives no title."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.replace("_", " ").replace("-", " "))
    words = spaced.split()
    if not words:
        return name
    # Lower-case ordinary words but keep acronyms such as IBAN or VAT as written.
    words = [w if w.isupper() and len(w) > 1 else w.lower() for w in words]
    return words[0][:1].upper() + words[0][1:] + "".join(" " + w for w in words[1:])


class KeyRegistry:
    """Detects two inputs bound to the same value, or a value that is also an object.

    ``a`` and ``a.b`` cannot both be inputs: ``a`` would have to be a string and a dict.
    """

    def __init__(self) -> None:
        self._leaves: dict[KeyPath, str] = {}
        self._objects: dict[KeyPath, str] = {}
        self._names: dict[str, str] = {}

    def add_leaf(self, path: KeyPath, where: str, name: str | None = None) -> None:
        shown = ".".join(path)
        if path in self._leaves:
            raise FormDefinitionError(
                f"{where}: key {shown!r} is already used by {self._leaves[path]}; keys must be unique."
            )
        if path in self._objects:
            raise FormDefinitionError(
                f"{where}: key {shown!r} is also the parent of the nested key at "
                f"{self._objects[path]}; a value cannot be both a field and a group of fields."
            )
        for i in range(1, len(path)):
            prefix = path[:i]
            if prefix in self._leaves:
                raise FormDefinitionError(
                    f"{where}: key {shown!r} is nested under {'.'.join(prefix)!r}, which is already a "
                    f"field at {self._leaves[prefix]}."
                )
            self._objects.setdefault(prefix, where)
        self._leaves[path] = where
        self._check_name(name if name is not None else shown, where)

    def add_object(self, path: KeyPath, where: str) -> None:
        for i in range(1, len(path) + 1):
            prefix = path[:i]
            if prefix in self._leaves:
                raise FormDefinitionError(
                    f"{where}: path {'.'.join(path)!r} goes through {'.'.join(prefix)!r}, which is "
                    f"already a field at {self._leaves[prefix]}."
                )
            self._objects.setdefault(prefix, where)

    def _check_name(self, name: str, where: str) -> None:
        # Property names may contain dots, so two different paths can spell the same input name.
        if name in self._names:
            raise FormDefinitionError(
                f"{where}: the input name {name!r} is also used by {self._names[name]}; "
                "rename one of the properties."
            )
        self._names[name] = where
