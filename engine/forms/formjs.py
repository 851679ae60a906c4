"""Camunda Forms (form-js JSON) -> field tree + JSON Schema.

Covers the components and properties real Camunda 8 files use (see in-the-wild.md):
textfield, textarea, number, checkbox, checklist, radio, select, datetime, taglist, group,
text, spacer, separator and button, with key, label, description, defaultValue, disabled,
readonly, validate.* and layout. FEEL expressions (``"=..."``) in properties cannot be
evaluated server-side; where one replaces a static value the property is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import FormDefinitionError
from .fields import Field, KeyPath, KeyRegistry, Option
from .form import Form
from .loading import load_document

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_KEY_RE = re.compile(r"^\w+(\.\w+)*$")
_NAMES_RULE = "dot-separated names made of letters, digits and _"

_SIMPLE_KINDS = {
    "textfield": "text",
    "textarea": "textarea",
    "number": "number",
    "checkbox": "checkbox",
    "checklist": "checklist",
    "radio": "radio",
    "select": "select",
    "taglist": "checklist",
}
_CHOICE_TYPES = {"checklist", "radio", "select", "taglist"}
_DATETIME_KINDS = {"date": "date", "time": "time", "datetime": "datetime"}
_DATETIME_FORMATS = {"date": "date", "time": "time", "datetime": "date-time"}
# Why each known-but-unsupported component is left out, in words for the person.
_UNSUPPORTED_WHY = {
    "html": "It shows raw HTML, which the Tasklist does not display for safety.",
    "image": "Images are not shown in the Tasklist.",
    "iframe": "Embedded pages are not shown in the Tasklist.",
    "expression": "It computes a value with a FEEL expression, which the Tasklist cannot evaluate.",
    "dynamiclist": "Repeating lists of entries are not supported yet.",
    "table": "Tables are not supported yet.",
    "filepicker": "File uploads are not supported yet.",
    "documentPreview": "Document previews are not supported yet.",
}


def form_from_formjs(doc: Mapping[str, Any] | str | bytes) -> Form:
    """Read a form-js document (a dict, or its JSON text). Raises FormDefinitionError."""
    doc = load_document(doc, "Camunda form")
    components = doc.get("components")
    if not isinstance(components, list):
        raise FormDefinitionError(
            "components: a Camunda form needs a 'components' list"
            + (
                f", got {type(components).__name__}."
                if components is not None
                else ", and this one has none."
            )
        )
    converter = _Converter()
    fields = converter.components(components, prefix=(), where="components")
    return Form(
        fields,
        converter.schema,
        required_objects=converter.required_objects,
        title=str(doc.get("id") or ""),
        dialect="formjs",
    )


class _Where:
    """A location in the form document for error messages: path first, then what it is.

    ``str(_Where("components[2]", "textfield 'name'") / "validate.pattern")`` gives
    ``components[2].validate.pattern (textfield 'name')``.
    """

    def __init__(self, path: str, desc: str = "") -> None:
        self.path = path
        self.desc = desc

    def __truediv__(self, sub: str) -> _Where:
        return _Where(f"{self.path}.{sub}", self.desc)

    def at(self, index: int) -> _Where:
        return _Where(f"{self.path}[{index}]", self.desc)

    def __str__(self) -> str:
        return f"{self.path} ({self.desc})" if self.desc else self.path


def _describe(comp: Mapping[str, Any], path: str) -> _Where:
    name = comp.get("key") or comp.get("id")
    kind = comp.get("type")
    return _Where(path, f"{kind} {name!r}" if name else str(kind))


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.lstrip().startswith("=")


class _Converter:
    def __init__(self) -> None:
        self.registry = KeyRegistry()
        self.required_objects: set[KeyPath] = set()
        self.schema: dict[str, Any] = {"$schema": JSON_SCHEMA_DIALECT, "type": "object", "properties": {}}

    # -- structure ----------------------------------------------------------------------

    def components(self, components: list[Any], prefix: KeyPath, where: str) -> list[Field]:
        fields = []
        for index, comp in enumerate(components):
            field = self.component(comp, prefix, f"{where}[{index}]")
            if field is not None:
                fields.append(field)
        return fields

    def component(self, comp: Any, prefix: KeyPath, path: str) -> Field | None:
        if not isinstance(comp, Mapping):
            raise FormDefinitionError(f"{path}: a component must be an object, got {type(comp).__name__}.")
        ctype = comp.get("type")
        if not isinstance(ctype, str) or not ctype:
            raise FormDefinitionError(f"{path}: the component has no 'type'.")
        where = _describe(comp, path)
        layout = comp.get("layout") if isinstance(comp.get("layout"), Mapping) else {}

        if ctype == "button":
            return None  # the Tasklist page has its own submit button
        if ctype == "group":
            return self._group(comp, prefix, where, dict(layout))
        if ctype == "text":
            return Field(
                kind="static_text",
                text=_string(comp.get("text"), where, "text"),
                layout=dict(layout),
                source_type=ctype,
            )
        if ctype == "spacer":
            return Field(
                kind="spacer",
                constraints={"height": comp.get("height")},
                layout=dict(layout),
                source_type=ctype,
            )
        if ctype == "separator":
            return Field(kind="separator", layout=dict(layout), source_type=ctype)
        if ctype in _SIMPLE_KINDS or ctype == "datetime":
            return self._input(comp, ctype, prefix, where, dict(layout))
        return self._unsupported(comp, ctype, dict(layout))

    def _group(self, comp: Mapping[str, Any], prefix: KeyPath, where: _Where, layout: dict) -> Field:
        children = comp.get("components", [])
        if not isinstance(children, list):
            raise FormDefinitionError(
                f"{where / 'components'}: must be a list, got {type(children).__name__}."
            )
        path = comp.get("path") or ""
        if not isinstance(path, str) or (path and not _KEY_RE.match(path)):
            raise FormDefinitionError(f"{where / 'path'}: {path!r} is not a valid path ({_NAMES_RULE}).")
        key = prefix + tuple(path.split(".")) if path else prefix
        if path:
            self.registry.add_object(key, str(where))
        return Field(
            kind="group",
            key=key,
            label=_string(comp.get("label"), where, "label"),
            description=_string(comp.get("description"), where, "description"),
            children=self.components(children, key, f"{where.path}.components"),
            layout=layout,
            source_type="group",
        )

    def _unsupported(self, comp: Mapping[str, Any], ctype: str, layout: dict) -> Field:
        why = _UNSUPPORTED_WHY.get(ctype, "The Tasklist does not know this kind of field.")
        label = comp.get("label") if isinstance(comp.get("label"), str) else ""
        return Field(
            kind="unsupported",
            label=label or str(comp.get("key") or ""),
            text=f"This form contains a “{ctype}” component that cannot be shown here. {why} "
            "The rest of the form works as usual.",
            layout=layout,
            source_type=ctype,
        )

    # -- inputs -------------------------------------------------------------------------

    def _input(
        self, comp: Mapping[str, Any], ctype: str, prefix: KeyPath, where: _Where, layout: dict
    ) -> Field:
        key_text = comp.get("key")
        if not isinstance(key_text, str) or not key_text:
            raise FormDefinitionError(f"{where}: a {ctype} component needs a 'key' naming its variable.")
        if not _KEY_RE.match(key_text):
            raise FormDefinitionError(f"{where / 'key'}: {key_text!r} is not a valid key ({_NAMES_RULE}).")

        validate = comp.get("validate") or {}
        if not isinstance(validate, Mapping):
            raise FormDefinitionError(
                f"{where / 'validate'}: must be an object, got {type(validate).__name__}."
            )
        options: list[Option] = []
        if ctype in _CHOICE_TYPES:
            if "values" not in comp and (comp.get("valuesKey") or comp.get("valuesExpression")):
                # Options computed at run time from variables or FEEL: cannot be offered safely.
                return Field(
                    kind="unsupported",
                    label=_string(comp.get("label"), where, "label") or key_text,
                    text=f"This “{ctype}” takes its choices from process data (valuesKey/valuesExpression), "
                    "which the Tasklist does not support yet. The rest of the form works as usual.",
                    layout=layout,
                    source_type=ctype,
                )
            if "values" in comp:
                options = _options(comp["values"], where / "values")
            elif ctype != "taglist":  # a taglist without values takes free text
                raise FormDefinitionError(f"{where}: a {ctype} needs 'values', the list of choices.")

        key = prefix + tuple(key_text.split("."))
        self.registry.add_leaf(key, str(where))
        kind, label = self._kind_and_label(comp, ctype, validate, where, options)

        constraints = _constraints(comp, validate, kind, where)
        conditional = isinstance(comp.get("conditional"), Mapping) and bool(comp["conditional"].get("hide"))
        field = Field(
            kind=kind,
            key=key,
            label=label or key_text,
            description=_string(comp.get("description"), where, "description"),
            required=_flag(validate.get("required"), where / "validate.required"),
            default=comp.get("defaultValue"),
            options=options,
            constraints=constraints,
            disabled=_flag(comp.get("disabled"), where / "disabled"),
            readonly=_flag(comp.get("readonly"), where / "readonly"),
            layout=layout,
            source_type=ctype,
            conditional=conditional,
        )
        self._add_schema(field)
        return field

    def _kind_and_label(
        self,
        comp: Mapping[str, Any],
        ctype: str,
        validate: Mapping[str, Any],
        where: _Where,
        options: list[Option],
    ) -> tuple[str, str]:
        label = _string(comp.get("label"), where, "label")
        if ctype == "datetime":
            subtype = comp.get("subtype", "date")
            if subtype not in _DATETIME_KINDS:
                raise FormDefinitionError(
                    f"{where / 'subtype'}: must be one of date, time or datetime, got {subtype!r}."
                )
            if not label:
                parts = [comp.get("dateLabel"), comp.get("timeLabel")]
                label = " / ".join(p for p in parts if isinstance(p, str) and p)
            return _DATETIME_KINDS[subtype], label
        if ctype == "textfield":
            vtype = validate.get("validationType")
            if vtype == "email":
                return "email", label
            if vtype == "phone":
                return "tel", label
        if ctype == "taglist" and not options:
            return "lines", label  # free tags, one per line: no JavaScript tag editor needed
        return _SIMPLE_KINDS[ctype], label

    # -- JSON Schema --------------------------------------------------------------------

    def _add_schema(self, field: Field) -> None:
        node = self.schema
        for part in field.key[:-1]:
            node = node["properties"].setdefault(part, {"type": "object", "properties": {}})
        node["properties"][field.key[-1]] = _field_schema(field)
        # form-js does not validate what the person cannot edit or may not even see.
        if field.required and not field.locked and not field.conditional:
            node = self.schema
            for i, part in enumerate(field.key):
                required = node.setdefault("required", [])
                if part not in required:
                    required.append(part)
                if i < len(field.key) - 1:
                    self.required_objects.add(field.key[: i + 1])
                    node = node["properties"][part]


def _field_schema(field: Field) -> dict[str, Any]:
    c = field.constraints
    kind = field.kind
    if kind in ("text", "email", "tel", "textarea", "date", "time", "datetime"):
        schema: dict[str, Any] = {"type": "string"}
        for key in ("minLength", "maxLength", "pattern", "format"):
            if c.get(key) is not None:
                schema[key] = c[key]
        return schema
    if kind == "number":
        schema = {"type": "number"}
        for key in ("minimum", "maximum"):
            if c.get(key) is not None:
                schema[key] = c[key]
        return schema
    if kind == "checkbox":
        # A required checkbox ("I accept ...") must be ticked: unticked is still a value (false).
        return {"type": "boolean", "const": True} if field.required else {"type": "boolean"}
    if kind == "checklist":
        return {"type": "array", "items": {"enum": [o.value for o in field.options]}, "uniqueItems": True}
    if kind == "lines":
        return {"type": "array", "items": {"type": "string"}}
    if kind in ("radio", "select"):
        return {"enum": [o.value for o in field.options]}
    raise AssertionError(kind)


def _constraints(
    comp: Mapping[str, Any], validate: Mapping[str, Any], kind: str, where: _Where
) -> dict[str, Any]:
    c: dict[str, Any] = {}
    if kind in ("text", "email", "tel", "textarea"):
        for key in ("minLength", "maxLength"):
            value = _int_limit(validate.get(key), where / f"validate.{key}")
            if value is not None:
                c[key] = value
        pattern = validate.get("pattern")
        if pattern not in (None, ""):
            c["pattern"] = _pattern(pattern, where / "validate.pattern")
        if kind == "email":
            c["format"] = "email"
        if kind == "tel":
            c["format"] = "phone"
    elif kind == "number":
        for src, dst in (("min", "minimum"), ("max", "maximum")):
            value = _number_limit(validate.get(src), where / f"validate.{src}")
            if value is not None:
                c[dst] = value
        digits = comp.get("decimalDigits")
        if digits is not None:
            if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
                raise FormDefinitionError(
                    f"{where / 'decimalDigits'}: must be a whole number ≥ 0, got {digits!r}."
                )
            c["decimalDigits"] = digits
    elif kind in ("date", "time", "datetime"):
        c["format"] = _DATETIME_FORMATS["datetime" if kind == "datetime" else kind]
    return c


def _options(values: Any, where: _Where) -> list[Option]:
    if not isinstance(values, list):
        raise FormDefinitionError(
            f"{where}: must be a list of {{label, value}} objects, got {type(values).__name__}."
        )
    options = []
    seen = set()
    for i, entry in enumerate(values):
        if not isinstance(entry, Mapping) or "value" not in entry:
            raise FormDefinitionError(f"{where.at(i)}: each choice needs a 'value' (and usually a 'label').")
        value = entry["value"]
        if isinstance(value, (dict, list)):
            raise FormDefinitionError(f"{where.at(i) / 'value'}: must be a string, number or boolean.")
        option = Option(
            value=value, label=str(entry.get("label") if entry.get("label") is not None else value)
        )
        if option.token in seen:
            raise FormDefinitionError(f"{where.at(i) / 'value'}: {value!r} is listed twice.")
        seen.add(option.token)
        options.append(option)
    return options


def _string(value: Any, where: _Where, prop: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise FormDefinitionError(f"{where / prop}: must be text, got {type(value).__name__}.")
    return str(value)


def _flag(value: Any, where: _Where) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        if _is_expression(value):
            return False  # a FEEL condition cannot be evaluated here; leave the field usable
        if value.strip().lower() in ("true", "false", ""):
            return value.strip().lower() == "true"
    raise FormDefinitionError(f"{where}: must be true or false, got {value!r}.")


def _int_limit(value: Any, where: _Where) -> int | None:
    if value is None or value == "" or _is_expression(value):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise FormDefinitionError(f"{where}: must be a whole number ≥ 0, got {value!r}.")


def _number_limit(value: Any, where: _Where) -> int | float | None:
    if value is None or value == "" or _is_expression(value):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            return int(number) if number.is_integer() else number
    raise FormDefinitionError(f"{where}: must be a number, got {value!r}.")


def _pattern(value: Any, where: _Where) -> str:
    if not isinstance(value, str):
        raise FormDefinitionError(f"{where}: must be a regular expression string, got {value!r}.")
    try:
        re.compile(value)
    except re.error as exc:
        raise FormDefinitionError(f"{where}: {value!r} is not a valid regular expression ({exc}).") from None
    return value
