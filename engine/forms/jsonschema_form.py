"""FlowSync JSON Schema forms (draft 2020-12) -> field tree; the schema itself validates.

Widgets by schema shape:
- string: text; format date / date-time / time / email get their own inputs; ``enum`` (or
  ``oneOf``/``anyOf`` of ``{const, title}``) is a select, a radio group with
  ``"x-widget": "radio"``; ``"x-widget": "textarea"`` gives a multi-line box
- number / integer: number input (minimum/maximum become min/max hints)
- boolean: checkbox (must be ticked only when the schema says ``const: true``); a Yes/No
  radio group with ``"x-widget": "radio"``
- array of enum items: checkboxes; array of strings/numbers: one entry per line in a textarea
- object with properties: fieldset; anything else (arrays of objects, free-form objects,
  mixed types, recursive $refs): a JSON text box, so the field can still be filled
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from .errors import FormDefinitionError
from .fields import Field, KeyPath, KeyRegistry, Option, humanize
from .form import Form
from .loading import load_document

_SCALARS = (str, int, float, bool, type(None))
_STRING_FORMATS = {"date": "date", "date-time": "datetime", "time": "time", "email": "email"}


def form_from_json_schema(schema: Mapping[str, Any] | str | bytes) -> Form:
    """Read a JSON Schema form (a dict, or its JSON text). Raises FormDefinitionError."""
    schema = copy.deepcopy(dict(load_document(schema, "Form schema")))
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = _dotted(exc.path) or "(root)"
        raise FormDefinitionError(f"{where}: not a valid JSON Schema: {exc.message}") from None
    converter = _Converter(schema)
    root, refs = converter.resolve(schema, "(root)", ())
    root_type = root.get("type")
    if root_type not in (None, "object") or (root_type is None and "properties" not in root):
        raise FormDefinitionError(
            f"(root): a form schema must describe an object with 'properties', got type {root_type!r}."
        )
    fields = converter.properties(
        root, prefix=(), where="properties", refs=refs, parent_default=root.get("default")
    )
    return Form(
        fields,
        schema,
        required_objects=converter.required_objects,
        title=str(root.get("title") or ""),
        dialect="jsonschema",
    )


def _dotted(path: Any) -> str:
    return ".".join(str(p) for p in path)


class _Converter:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.registry = KeyRegistry()
        self.required_objects: set[KeyPath] = set()

    def resolve(self, node: Any, where: str, refs: tuple[str, ...]) -> tuple[Any, tuple[str, ...]]:
        """Follow local ``$ref`` chains; sibling keywords override the target (2020-12 semantics)."""
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not ref.startswith("#"):
                # jsonschema could not resolve it at validation time either: refuse now, clearly.
                raise FormDefinitionError(
                    f"{where}.$ref: only references inside the form schema ('#/$defs/...') are supported, "
                    f"got {ref!r}."
                )
            if ref in refs:
                return {"x-flowsync-recursive": True}, refs
            target = self._pointer(ref, where)
            refs = refs + (ref,)
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **siblings} if isinstance(target, Mapping) else target
        return node, refs

    def _pointer(self, ref: str, where: str) -> Any:
        current: Any = self.root
        pointer = unquote(ref[1:])
        for raw in pointer.split("/")[1:] if pointer else []:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(current, Mapping) and part in current:
                current = current[part]
            elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
                current = current[int(part)]
            else:
                raise FormDefinitionError(f"{where}.$ref: {ref!r} points to nothing in the schema.")
        return current

    # -- objects ------------------------------------------------------------------------

    def properties(
        self, node: Mapping[str, Any], prefix: KeyPath, where: str, refs: tuple[str, ...], parent_default: Any,
        readonly: bool = False,
    ) -> list[Field]:
        props = node.get("properties", {})
        required = node.get("required", [])
        for name in required:
            if name not in props:
                raise FormDefinitionError(
                    f"{where}: 'required' lists {name!r}, but there is no property of that name to fill in."
                )
        defaults = parent_default if isinstance(parent_default, Mapping) else {}
        fields = []
        for name, sub in props.items():
            field = self.property(
                name, sub, prefix, f"{where}.{name}", refs, name in required, defaults.get(name), readonly
            )
            if field is not None:
                fields.append(field)
        return fields

    def property(
        self,
        name: str,
        node: Any,
        prefix: KeyPath,
        where: str,
        refs: tuple[str, ...],
        required: bool,
        inherited_default: Any,
        inherited_readonly: bool = False,
    ) -> Field | None:
        node, refs = self.resolve(node, where, refs)
        if node is False:
            return None  # a property that may never be present has nothing to fill in
        if node is True:
            node = {}
        key = prefix + (name,)
        common: dict[str, Any] = {
            "key": key,
            "label": str(node.get("title") or humanize(name)),
            "description": str(node.get("description") or ""),
            "required": required,
            "default": node.get("default", inherited_default),
            # readOnly on an object covers its whole value: every field inside is shown, not taken.
            "readonly": node.get("readOnly") is True or inherited_readonly,
        }
        types = _types(node)
        widget = node.get("x-widget")

        if types == ["object"] or (not types and isinstance(node.get("properties"), Mapping)):
            if isinstance(node.get("properties"), Mapping) and not node.get("x-flowsync-recursive"):
                self.registry.add_object(key, where)
                if required:
                    self.required_objects.add(key)
                children = self.properties(
                    node, key, f"{where}.properties", refs, common["default"], common["readonly"]
                )
                return Field(kind="group", children=children, **{**common, "default": None})
            return self._json(common, where)

        if types == ["boolean"] and widget == "radio":
            # An explicit yes/no question: unlike a checkbox, "not answered" stays possible.
            options = _choices(node) or [Option(True, "Yes"), Option(False, "No")]
            return self._leaf("radio", {**common, "options": options}, where)
        if types == ["boolean"]:
            must_tick = node.get("const") is True or node.get("enum") == [True]
            return self._leaf("checkbox", {**common, "required": must_tick}, where)

        choices = _choices(node)
        if choices is not None and set(types) <= {"string", "number", "integer", "boolean"}:
            kind = "radio" if widget == "radio" else "select"
            return self._leaf(kind, {**common, "options": choices}, where)

        if types == ["array"]:
            items, _ = self.resolve(node.get("items", {}), f"{where}.items", refs)
            items = items if isinstance(items, Mapping) else {}
            item_choices = _choices(items)
            item_types = _types(items)
            if item_choices is not None:
                return self._leaf("checklist", {**common, "options": item_choices}, where)
            if (
                len(item_types) == 1
                and item_types[0] in ("string", "number", "integer")
                and not items.get("format")
            ):
                return self._leaf("lines", {**common, "constraints": {"item_type": item_types[0]}}, where)
            return self._json(common, where)

        if types == ["string"]:
            constraints = {k: node[k] for k in ("minLength", "maxLength") if k in node}
            kind = _STRING_FORMATS.get(node.get("format", ""), "text")
            if kind == "text" and widget == "textarea":
                kind = "textarea"
            return self._leaf(kind, {**common, "constraints": constraints}, where)

        if types in (["number"], ["integer"]):
            constraints = {
                k: node[k]
                for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
                if k in node
            }
            return self._leaf(types[0], {**common, "constraints": constraints}, where)

        return self._json(common, where)

    def _leaf(self, kind: str, attrs: dict[str, Any], where: str) -> Field:
        field = Field(kind=kind, **attrs)
        self.registry.add_leaf(field.key, where, name=field.name)
        return field

    def _json(self, common: dict[str, Any], where: str) -> Field:
        hint = "Enter the value as JSON."
        description = f"{common['description']} {hint}".strip()
        return self._leaf("json", {**common, "description": description}, where)


def _types(node: Mapping[str, Any]) -> list[str]:
    """The schema's types without "null" (an empty optional field is simply omitted)."""
    declared = node.get("type")
    if isinstance(declared, str):
        declared = [declared]
    if not declared:
        return []
    types = [t for t in declared if t != "null"]
    if set(types) == {"number", "integer"}:
        return ["number"]
    return types


def _choices(node: Mapping[str, Any]) -> list[Option] | None:
    """Options from ``enum``, or from ``oneOf``/``anyOf`` of ``{const, title}`` (labelled enums)."""
    if isinstance(node.get("enum"), list):
        values = [v for v in node["enum"] if v is not None]
        if all(isinstance(v, _SCALARS) for v in values):
            return [Option(value=v, label=str(v)) for v in values]
        return None
    for keyword in ("oneOf", "anyOf"):
        branches = node.get(keyword)
        if (
            isinstance(branches, list)
            and branches
            and all(
                isinstance(b, Mapping) and "const" in b and isinstance(b["const"], _SCALARS) for b in branches
            )
        ):
            return [
                Option(value=b["const"], label=str(b.get("title") or b["const"]))
                for b in branches
                if b["const"] is not None
            ]
    return None
