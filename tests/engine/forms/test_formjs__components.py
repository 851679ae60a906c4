"""form-js (Camunda Forms) documents -> normalized field tree and JSON Schema."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.forms import FormDefinitionError, form_from_formjs


def _form(*components: dict[str, Any]):  # type: ignore[no-untyped-def]
    return form_from_formjs({"components": list(components), "type": "default", "schemaVersion": 16})


def test_modeler_form_becomes_a_field_tree(formjs_doc: dict[str, Any]) -> None:
    form = form_from_formjs(formjs_doc)

    kinds = [(f.kind, f.name) for f in form.fields]
    assert kinds == [
        ("static_text", ""),
        ("text", "approverName"),
        ("number", "age"),
        ("email", "email"),
        ("number", "amount"),
        ("checkbox", "approved"),
        ("radio", "priority"),
        ("select", "costCentre"),
        ("checklist", "checks"),
        ("textarea", "comment"),
        ("date", "paymentDate"),
        ("group", "customer"),
    ]  # the submit button is dropped: the Tasklist page has its own
    name = form.field("approverName")
    assert name.label == "Approver name"
    assert name.description == "As printed on your badge"
    assert name.required
    assert name.constraints == {"minLength": 2, "maxLength": 50, "pattern": "^[A-Z]"}
    assert name.layout == {"row": "Row_1m9xk3w", "columns": 8}
    assert form.field("paymentDate").label == "Payment date"  # datetime uses dateLabel
    assert form.field("amount").disabled
    assert form.field("amount").constraints["decimalDigits"] == 2
    assert [(o.value, o.label) for o in form.field("priority").options] == [
        ("high", "High"),
        ("normal", "Normal"),
        ("low", "Low"),
    ]
    assert form.field("priority").default == "normal"
    group = form.fields[-1]
    assert group.label == "Supplier address"
    assert [c.key for c in group.children] == [
        ("customer", "address", "city"),
        ("customer", "address", "zip"),
    ]
    assert form.title == "Form_InvoiceApproval"


def test_modeler_form_becomes_one_json_schema(formjs_doc: dict[str, Any]) -> None:
    schema = form_from_formjs(formjs_doc).schema

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["approverName", "priority", "customer"]  # the disabled amount is not
    props = schema["properties"]
    assert props["approverName"] == {"type": "string", "minLength": 2, "maxLength": 50, "pattern": "^[A-Z]"}
    assert props["age"] == {"type": "number", "minimum": 18, "maximum": 99}
    assert props["email"] == {"type": "string", "format": "email"}
    assert props["approved"] == {"type": "boolean"}
    assert props["priority"] == {"enum": ["high", "normal", "low"]}
    assert props["checks"]["items"] == {"enum": ["po", "goods", "vat"]}
    assert props["paymentDate"] == {"type": "string", "format": "date"}
    address = props["customer"]["properties"]["address"]
    assert props["customer"]["required"] == ["address"]
    assert address["required"] == ["city"]
    assert set(address["properties"]) == {"city", "zip"}


def test_datetime_subtypes_and_taglist_variants() -> None:
    form = _form(
        {"type": "datetime", "key": "d", "subtype": "date", "dateLabel": "Day"},
        {"type": "datetime", "key": "t", "subtype": "time", "timeLabel": "Hour"},
        {"type": "datetime", "key": "dt", "subtype": "datetime", "dateLabel": "Date", "timeLabel": "Time"},
        {"type": "taglist", "key": "tags", "label": "Tags", "values": [{"label": "A", "value": "a"}]},
        {"type": "taglist", "key": "free", "label": "Free tags"},
        {"type": "textfield", "key": "phone", "label": "Phone", "validate": {"validationType": "phone"}},
    )
    assert [(f.kind, f.label) for f in form.fields] == [
        ("date", "Day"),
        ("time", "Hour"),
        ("datetime", "Date / Time"),
        ("checklist", "Tags"),
        ("lines", "Free tags"),
        ("tel", "Phone"),
    ]
    props = form.schema["properties"]
    assert props["dt"]["format"] == "date-time"
    assert props["t"]["format"] == "time"
    assert props["free"] == {"type": "array", "items": {"type": "string"}}
    assert props["phone"]["format"] == "phone"


def test_spacer_separator_and_text_are_display_only() -> None:
    form = _form(
        {"type": "spacer", "height": 30},
        {"type": "separator"},
        {"type": "text", "text": "Hello"},
        {"type": "textfield", "key": "a", "label": "A"},
    )
    assert [f.kind for f in form.fields] == ["spacer", "separator", "static_text", "text"]
    assert [f.name for f in form.inputs] == ["a"]
    assert list(form.schema["properties"]) == ["a"]


def test_group_without_path_keeps_keys_flat_and_nested_groups_join_paths() -> None:
    form = _form(
        {
            "type": "group",
            "label": "Outer",
            "components": [
                {"type": "textfield", "key": "flat", "label": "Flat"},
                {
                    "type": "group",
                    "path": "a.b",
                    "components": [
                        {
                            "type": "group",
                            "path": "c",
                            "components": [{"type": "number", "key": "n", "label": "N"}],
                        }
                    ],
                },
            ],
        }
    )
    assert [f.name for f in form.inputs] == ["flat", "a.b.c.n"]
    assert (
        form.schema["properties"]["a"]["properties"]["b"]["properties"]["c"]["properties"]["n"]["type"]
        == "number"
    )


def test_unknown_and_unsupported_components_become_a_note_and_the_rest_works() -> None:
    form = _form(
        {"type": "textfield", "key": "name", "label": "Name"},
        {"type": "fancyslider", "key": "level", "label": "Level"},
        {"type": "html", "content": "<b>x</b>"},
        {"type": "dynamiclist", "path": "items", "components": []},
        {"type": "select", "key": "country", "label": "Country", "valuesKey": "countries"},
    )
    notes = [f for f in form.fields if f.kind == "unsupported"]
    assert [n.source_type for n in notes] == ["fancyslider", "html", "dynamiclist", "select"]
    assert "fancyslider" in notes[0].text
    assert "valuesKey" in notes[3].text
    assert list(form.schema["properties"]) == ["name"]

    values, errors = form.parse({"name": ["Ada"], "level": ["9"]})
    assert (dict(values), errors) == ({"name": "Ada"}, {})


def test_feel_expressions_are_not_evaluated_and_do_not_break_the_form() -> None:
    form = _form(
        {
            "type": "number",
            "key": "n",
            "label": "N",
            "validate": {"min": "=minimum", "max": "10"},
            "disabled": "=locked",
        },
        {
            "type": "textfield",
            "key": "t",
            "label": "T",
            "conditional": {"hide": "=n > 5"},
            "validate": {"required": True},
        },
    )
    n = form.field("n")
    assert n.constraints == {"maximum": 10}
    assert not n.disabled
    # A field that may be hidden by a condition cannot be required: the person may not see it.
    assert "required" not in form.schema
    assert form.parse({})[1] == {}


def test_accepts_the_json_text_of_a_form(formjs_doc: dict[str, Any]) -> None:
    form = form_from_formjs(json.dumps(formjs_doc))
    assert form.field("approverName").required


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ([], "must be a JSON object, got list"),
        ("{not json", "not valid JSON"),
        ({"type": "default"}, "components: a Camunda form needs a 'components' list"),
        ({"components": {"a": 1}}, "components: a Camunda form needs a 'components' list, got dict"),
        ({"components": ["textfield"]}, "components[0]: a component must be an object"),
        ({"components": [{"key": "a"}]}, "components[0]: the component has no 'type'"),
        ({"components": [{"type": "textfield", "label": "Name"}]}, "components[0] (textfield)"),
        ({"components": [{"type": "textfield", "key": "a b"}]}, "components[0].key (textfield 'a b')"),
        (
            {"components": [{"type": "textfield", "key": "a"}, {"type": "number", "key": "a"}]},
            "components[1] (number 'a'): key 'a' is already used by components[0] (textfield 'a')",
        ),
        (
            {"components": [{"type": "textfield", "key": "a"}, {"type": "textfield", "key": "a.b"}]},
            "key 'a.b' is nested under 'a'",
        ),
        (
            {"components": [{"type": "textfield", "key": "a", "validate": {"pattern": "([a-z"}}]},
            "components[0].validate.pattern (textfield 'a'): '([a-z' is not a valid regular expression",
        ),
        (
            {"components": [{"type": "number", "key": "a", "validate": {"min": "lots"}}]},
            "components[0].validate.min (number 'a'): must be a number",
        ),
        ({"components": [{"type": "textfield", "key": "a", "validate": True}]}, "validate (textfield 'a')"),
        (
            {"components": [{"type": "radio", "key": "r"}]},
            "components[0] (radio 'r'): a radio needs 'values'",
        ),
        (
            {"components": [{"type": "radio", "key": "r", "values": [{"label": "x"}]}]},
            "components[0].values[0] (radio 'r'): each choice needs a 'value'",
        ),
        (
            {"components": [{"type": "select", "key": "s", "values": "a,b"}]},
            "components[0].values (select 's'): must be a list",
        ),
        (
            {"components": [{"type": "datetime", "key": "d", "subtype": "week"}]},
            "components[0].subtype (datetime 'd'): must be one of date, time or datetime",
        ),
        (
            {"components": [{"type": "group", "path": "a..b", "components": []}]},
            "components[0].path (group)",
        ),
        (
            {
                "components": [
                    {"type": "group", "components": [{"type": "checkbox", "key": "x", "disabled": 3}]}
                ]
            },
            "components[0].components[0].disabled (checkbox 'x'): must be true or false",
        ),
    ],
)
def test_malformed_forms_raise_a_clear_definition_error(doc: Any, expected: str) -> None:
    with pytest.raises(FormDefinitionError) as info:
        form_from_formjs(doc)
    assert expected in str(info.value)
    assert isinstance(info.value, ValueError)
