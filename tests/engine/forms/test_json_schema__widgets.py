"""FlowSync JSON Schema forms -> widgets, and the same behaviour as the form-js dialect."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.forms import FormDefinitionError, form_from_formjs, form_from_json_schema


def _form(properties: dict[str, Any], **extra: Any):  # type: ignore[no-untyped-def]
    return form_from_json_schema({"type": "object", "properties": properties, **extra})


def test_each_schema_shape_gets_its_widget() -> None:
    form = _form(
        {
            "name": {"type": "string", "minLength": 2},
            "born": {"type": "string", "format": "date"},
            "meeting": {"type": "string", "format": "date-time"},
            "alarm": {"type": "string", "format": "time"},
            "email": {"type": "string", "format": "email"},
            "notes": {"type": "string", "x-widget": "textarea"},
            "size": {"type": "string", "enum": ["S", "M", "L"]},
            "colour": {"type": "string", "enum": ["red", "blue"], "x-widget": "radio"},
            "count": {"type": "integer", "minimum": 1},
            "ratio": {"type": ["number", "null"], "maximum": 1},
            "agree": {"type": "boolean"},
            "toppings": {"type": "array", "items": {"type": "string", "enum": ["ham", "olives"]}},
            "aliases": {"type": "array", "items": {"type": "string"}},
            "scores": {"type": "array", "items": {"type": "integer"}},
            "lines": {
                "type": "array",
                "items": {"type": "object", "properties": {"sku": {"type": "string"}}},
            },
            "extra": {"type": "object"},
            "mixed": {"type": ["string", "number"]},
        }
    )
    assert {f.name: f.kind for f in form.inputs} == {
        "name": "text",
        "born": "date",
        "meeting": "datetime",
        "alarm": "time",
        "email": "email",
        "notes": "textarea",
        "size": "select",
        "colour": "radio",
        "count": "integer",
        "ratio": "number",
        "agree": "checkbox",
        "toppings": "checklist",
        "aliases": "lines",
        "scores": "lines",
        "lines": "json",  # arrays of objects fall back to a JSON box rather than disappearing
        "extra": "json",
        "mixed": "json",
    }
    assert form.field("scores").constraints == {"item_type": "integer"}
    assert form.field("count").constraints == {"minimum": 1}
    assert "JSON" in form.field("lines").description


def test_titles_descriptions_defaults_and_generated_labels() -> None:
    form = _form(
        {
            "first_name": {"type": "string", "description": "Given name"},
            "vatID": {"type": "string", "title": "VAT number", "default": "DE123"},
        }
    )
    first, vat = form.inputs
    assert (first.label, first.description) == ("First name", "Given name")
    assert (vat.label, vat.default) == ("VAT number", "DE123")
    assert form.initial_values({}) == {"vatID": "DE123"}


def test_labelled_enums_with_one_of_const() -> None:
    form = _form(
        {
            "level": {
                "type": "integer",
                "oneOf": [{"const": 1, "title": "Low"}, {"const": 2, "title": "High"}],
            }
        }
    )
    level = form.field("level")
    assert level.kind == "select"
    assert [(o.value, o.label) for o in level.options] == [(1, "Low"), (2, "High")]
    values, errors = form.parse({"level": ["2"]})
    assert (dict(values), errors) == ({"level": 2}, {})


def test_nested_objects_become_fieldsets_with_nested_keys() -> None:
    form = _form(
        {
            "customer": {
                "type": "object",
                "title": "Customer",
                "description": "Who ordered",
                "properties": {
                    "name": {"type": "string"},
                    "address": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        }
    )
    group = form.fields[0]
    assert (group.kind, group.label, group.description) == ("group", "Customer", "Who ordered")
    assert [f.name for f in form.inputs] == ["customer.name", "customer.address.city"]
    assert form.fields[0].children[1].kind == "group"


def test_read_only_properties_are_shown_but_locked() -> None:
    form = _form({"ref": {"type": "string", "readOnly": True}}, required=["ref"])
    assert form.field("ref").readonly
    values, errors = form.parse({"ref": ["forged"]})
    assert (dict(values), errors) == ({}, {})  # neither taken from input nor demanded from the person


def test_local_refs_are_followed_and_recursive_ones_fall_back_to_json() -> None:
    form = form_from_json_schema(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {
                "address": {"type": "object", "properties": {"city": {"type": "string", "minLength": 2}}},
                "person": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "parent": {"$ref": "#/$defs/person"}},
                },
            },
            "properties": {
                "home": {"$ref": "#/$defs/address", "title": "Home"},
                "person": {"$ref": "#/$defs/person"},
            },
        }
    )
    assert form.fields[0].label == "Home"
    assert {f.name: f.kind for f in form.inputs} == {
        "home.city": "text",
        "person.name": "text",
        "person.parent": "json",
    }
    values, errors = form.parse({"home.city": ["X"], "person.parent": ['{"name": "Eve"}']})
    assert errors == {"home.city": ["Enter at least 2 characters."]}
    assert values["person"] == {"parent": {"name": "Eve"}}


def test_schema_given_as_json_text() -> None:
    form = form_from_json_schema('{"type": "object", "properties": {"a": {"type": "integer"}}}')
    assert form.field("a").kind == "integer"


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ("[1, 2]", "must be a JSON object, got list"),
        ({"type": "string"}, "(root): a form schema must describe an object with 'properties'"),
        ({"title": "no properties"}, "a form schema must describe an object"),
        (
            {"type": "object", "properties": {"age": {"type": "integer", "minimum": "18"}}},
            "properties.age.minimum: not a valid JSON Schema: '18' is not of type 'number'",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "strnig"}}},
            "properties.a.type: not a valid JSON Schema",
        ),
        (
            {"type": "object", "required": ["b"], "properties": {"a": {"type": "string"}}},
            "properties: 'required' lists 'b'",
        ),
        (
            {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}},
            "properties.a.$ref: only references inside the form schema",
        ),
        (
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
            "properties.a.$ref: '#/$defs/missing' points to nothing",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "a.b": {"type": "string"},
                    "a": {"type": "object", "properties": {"b": {"type": "string"}}},
                },
            },
            "the input name 'a.b' is also used by properties.a.b",
        ),
    ],
)
def test_malformed_schemas_raise_a_clear_definition_error(schema: Any, expected: str) -> None:
    with pytest.raises(FormDefinitionError) as info:
        form_from_json_schema(schema)
    assert expected in str(info.value)


def test_schema_is_not_modified_by_reading_it(schema_doc: dict[str, Any]) -> None:
    original = copy.deepcopy(schema_doc)
    form = form_from_json_schema(schema_doc)
    assert schema_doc == original
    assert form.schema == original


# -- the same form in both dialects behaves the same ----------------------------------------

SUBMISSIONS = [
    {
        "approverName": ["Ada"],
        "age": ["42"],
        "email": ["ada@example.com"],
        "approved": ["true"],
        "priority": ["high"],
        "costCentre": ["CC-200"],
        "checks": ["po", "vat"],
        "comment": ["Fine\r\nby me"],
        "paymentDate": ["2024-05-31"],
        "customer.address.city": ["Berlin"],
        "amount": ["999999"],
    },
    {
        "approverName": ["a"],
        "age": ["17"],
        "email": ["not-an-email"],
        "priority": ["urgent"],
        "paymentDate": ["31.05.2024"],
        "comment": ["x" * 501],
    },
    {"age": ["abc"], "checks": ["po", "bribe"], "customer.address.zip": ["10115"]},
    {},
]


@pytest.mark.parametrize("data", SUBMISSIONS)
def test_formjs_and_json_schema_forms_parse_alike(
    formjs_doc: dict[str, Any], schema_doc: dict[str, Any], data: dict[str, list[str]]
) -> None:
    from_formjs = form_from_formjs(formjs_doc).parse(data)
    from_schema = form_from_json_schema(schema_doc).parse(data)
    assert dict(from_formjs[0]) == dict(from_schema[0])
    assert from_formjs[1] == from_schema[1]


def test_both_dialects_describe_the_same_inputs(
    formjs_doc: dict[str, Any], schema_doc: dict[str, Any]
) -> None:
    def summary(form):  # type: ignore[no-untyped-def]
        return [
            (f.kind, f.name, f.label, f.required, f.locked, [o.value for o in f.options]) for f in form.inputs
        ]

    assert summary(form_from_formjs(formjs_doc)) == summary(form_from_json_schema(schema_doc))


def test_boolean_as_yes_no_radio_keeps_the_answer_typed() -> None:
    form = _form(
        {"approved": {"type": "boolean", "x-widget": "radio", "title": "Approve?"}}, required=["approved"]
    )
    field = form.field("approved")
    assert (field.kind, [(o.value, o.label) for o in field.options]) == (
        "radio",
        [(True, "Yes"), (False, "No")],
    )
    assert form.parse({"approved": ["false"]}) == ({"approved": False}, {})
    assert form.parse({})[1] == {"approved": ["This field is required."]}
