"""POST data -> typed process variables and field errors a person understands."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils.datastructures import MultiValueDict

from engine.forms import form_from_formjs, form_from_json_schema, generic_variables_form

VALID = {
    "approverName": ["Ada"],
    "priority": ["normal"],
    "customer.address.city": ["Berlin"],
}


def _formjs(*components: dict[str, Any]):  # type: ignore[no-untyped-def]
    return form_from_formjs({"components": list(components)})


def test_coercion_to_json_types(formjs_doc: dict[str, Any]) -> None:
    form = form_from_formjs(formjs_doc)
    data = {
        **VALID,
        "age": ["42"],
        "approved": ["true"],
        "checks": ["vat", "po"],
        "paymentDate": ["2024-05-31"],
        "comment": ["  Line one\r\nLine two  "],
        "email": [""],  # empty optional -> omitted
        "costCentre": [""],
    }
    values, errors = form.parse(data)
    assert errors == {}
    assert values == {
        "approverName": "Ada",
        "age": 42,
        "approved": True,
        "priority": "normal",
        "checks": ["po", "vat"],  # option order, whatever order the browser sent
        "comment": "Line one\nLine two",
        "paymentDate": "2024-05-31",
        "customer": {"address": {"city": "Berlin"}},
    }
    assert json.loads(json.dumps(values)) == values  # ready to become process variables


def test_unticked_checkbox_is_false_and_numbers_keep_decimals() -> None:
    form = _formjs(
        {"type": "checkbox", "key": "ok", "label": "OK"},
        {"type": "number", "key": "price", "label": "Price", "decimalDigits": 2},
        {"type": "number", "key": "big", "label": "Big"},
    )
    values, errors = form.parse({"price": ["19.90"], "big": ["1e3"]})
    assert errors == {}
    assert values == {"ok": False, "price": 19.9, "big": 1000}
    assert isinstance(values["big"], int)


def test_query_dict_like_input_with_repeated_keys() -> None:
    form = _formjs(
        {
            "type": "checklist",
            "key": "tags",
            "label": "Tags",
            "values": [{"label": "A", "value": "a"}, {"label": "B", "value": "b"}],
        },
        {"type": "textfield", "key": "name", "label": "Name"},
    )
    data = MultiValueDict({"tags": ["a", "b", "a"], "name": ["first", "last"]})
    values, errors = form.parse(data)
    assert (dict(values), errors) == ({"tags": ["a", "b"], "name": "last"}, {})


def test_datetime_local_input_gets_the_persons_offset() -> None:
    form = _formjs(
        {"type": "datetime", "key": "at", "subtype": "datetime", "dateLabel": "At"},
        {"type": "datetime", "key": "time", "subtype": "time", "timeLabel": "Time"},
    )
    values, _ = form.parse({"at": ["2024-03-31T10:30"], "time": ["09:15"]})
    assert values == {"at": "2024-03-31T10:30:00+00:00", "time": "09:15"}
    values, _ = form.parse({"at": ["2024-03-31T10:30"]}, tz=ZoneInfo("Europe/Berlin"))
    assert values == {"at": "2024-03-31T10:30:00+02:00"}
    assert dt.datetime.fromisoformat(values["at"]) == dt.datetime(2024, 3, 31, 8, 30, tzinfo=dt.UTC)


def test_nested_keys_produce_nested_dicts() -> None:
    form = _formjs(
        {"type": "textfield", "key": "customer.address.city", "label": "City"},
        {
            "type": "group",
            "path": "customer",
            "components": [{"type": "textfield", "key": "name", "label": "N"}],
        },
        {"type": "number", "key": "customer.address.number", "label": "No."},
    )
    values, errors = form.parse(
        {"customer.address.city": ["Rome"], "customer.name": ["Ada"], "customer.address.number": ["7"]}
    )
    assert errors == {}
    assert values == {"customer": {"address": {"city": "Rome", "number": 7}, "name": "Ada"}}
    assert form.parse({})[0] == {}  # nothing typed: no empty objects either


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ({"type": "textfield", "validate": {"required": True}}, "", "This field is required."),
        ({"type": "textfield", "validate": {"required": True}}, "   ", "This field is required."),
        ({"type": "number", "validate": {"min": 18}}, "17", "Must be at least 18."),
        ({"type": "number", "validate": {"max": 99.5}}, "100", "Must be at most 99.5."),
        ({"type": "number"}, "abc", "Enter a number."),
        ({"type": "number"}, "NaN", "Enter a number."),
        ({"type": "number", "decimalDigits": 0}, "1.5", "Enter a number with no decimal places."),
        ({"type": "number", "decimalDigits": 2}, "1.555", "Enter a number with at most 2 decimal places."),
        ({"type": "textfield", "validate": {"minLength": 3}}, "ab", "Enter at least 3 characters."),
        ({"type": "textarea", "validate": {"maxLength": 1}}, "ab", "Enter at most 1 character."),
        (
            {"type": "textfield", "validate": {"pattern": "^[A-Z]{2}$"}},
            "abc",
            "Enter a value in the required format.",
        ),
        (
            {"type": "textfield", "validate": {"validationType": "email"}},
            "ada@",
            "Enter a valid email address.",
        ),
        (
            {"type": "textfield", "validate": {"validationType": "phone"}},
            "call me",
            "Enter a valid phone number.",
        ),
        ({"type": "datetime", "subtype": "date"}, "2024-02-30", "Enter a valid date (YYYY-MM-DD)."),
        ({"type": "datetime", "subtype": "time"}, "25:00", "Enter a valid time (HH:MM)."),
        ({"type": "datetime", "subtype": "datetime"}, "tomorrow", "Enter a valid date and time."),
        (
            {"type": "select", "values": [{"label": "A", "value": "a"}]},
            "z",
            "Select a valid choice. 'z' is not one of the available choices.",
        ),
        ({"type": "checkbox", "validate": {"required": True}}, "", "This field is required."),
    ],
)
def test_each_error_kind_has_a_human_message(field: dict[str, Any], typed: str, message: str) -> None:
    form = _formjs({"key": "f", "label": "F", **field})
    values, errors = form.parse({"f": [typed]} if typed else {})
    assert errors == {"f": [message]}


def test_json_schema_only_keywords_have_messages_too() -> None:
    form = form_from_json_schema(
        {
            "type": "object",
            "properties": {
                "n": {"type": "integer", "exclusiveMinimum": 0, "multipleOf": 5},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}, "minItems": 2},
                "scores": {"type": "array", "items": {"type": "integer"}},
                "choice": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 1},
            },
        }
    )
    values, errors = form.parse({"n": ["-3"], "tags": ["abcd"], "scores": ["1\n2.5"], "choice": ["a", "b"]})
    assert errors == {
        "n": ["Must be greater than 0.", "Must be a multiple of 5."],
        "tags": ["Item 1: Enter at most 3 characters.", "Choose at least 2 items."],
        "scores": ["Line 2: Enter a whole number."],
        "choice": ["Choose at most 1 item."],
    }
    assert form.parse({"n": ["4.5"]})[1] == {"n": ["Enter a whole number."]}


def test_unparseable_input_is_a_field_error_and_is_kept_for_redisplay() -> None:
    form = _formjs(
        {"type": "number", "key": "age", "label": "Age", "validate": {"required": True}},
        {"type": "textfield", "key": "name", "label": "Name"},
    )
    values, errors = form.parse({"age": ["forty"], "name": ["Ada"]})
    assert errors == {"age": ["Enter a number."]}  # not also "required": one clear message
    assert dict(values) == {"name": "Ada"}
    assert values.raw == {"age": ["forty"]}


def test_disabled_and_readonly_fields_are_not_taken_from_input(formjs_doc: dict[str, Any]) -> None:
    form = _formjs(
        {
            "type": "number",
            "key": "amount",
            "label": "Amount",
            "disabled": True,
            "validate": {"required": True},
        },
        {"type": "textfield", "key": "ref", "label": "Ref", "readonly": True},
        {"type": "textfield", "key": "note", "label": "Note"},
    )
    values, errors = form.parse({"amount": ["1000000"], "ref": ["forged"], "note": ["ok"]})
    assert (dict(values), errors) == ({"note": "ok"}, {})

    # The re-render shows the process value again for the fields the person could not change.
    shown = form.redisplay_values({"amount": 120, "ref": "R-1", "note": "old"}, values)
    assert shown == {"amount": 120, "ref": "R-1", "note": "ok"}


def test_required_object_without_required_children_is_kept() -> None:
    form = form_from_json_schema(
        {
            "type": "object",
            "required": ["address"],
            "properties": {
                "address": {"type": "object", "properties": {"city": {"type": "string"}}},
                "spouse": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                },
            },
        }
    )
    assert form.parse({}) == ({"address": {}}, {})  # optional spouse left empty: not demanded
    assert form.parse({"spouse.age": ["40"]})[1] == {"spouse.name": ["This field is required."]}


def test_initial_values_come_from_variables_by_key_path_else_defaults(formjs_doc: dict[str, Any]) -> None:
    form = form_from_formjs(formjs_doc)
    variables = {
        "approverName": "Grace",
        "amount": 1250.5,
        "customer": {"address": {"city": "Oslo"}},
        "unrelated": "kept out",
    }
    assert form.initial_values(variables) == {
        "approverName": "Grace",
        "amount": 1250.5,
        "approved": False,  # defaultValue
        "priority": "normal",  # defaultValue
        "customer": {"address": {"city": "Oslo"}},
    }
    assert form.initial_values({"priority": "high"})["priority"] == "high"  # variables beat defaults


# -- the generic variables form ---------------------------------------------------------------


def test_generic_form_round_trips_a_json_object() -> None:
    form = generic_variables_form({"amount": 10, "approved": False})
    assert [f.name for f in form.inputs] == ["variables"]
    assert form.initial_values({"amount": 10}) == {"amount": 10}
    values, errors = form.parse({"variables": ['{"amount": 12, "approved": true, "items": [1, 2]}']})
    assert errors == {}
    assert values == {"amount": 12, "approved": True, "items": [1, 2]}


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ('{"amount": 12,}', "Enter valid JSON (Expecting property name enclosed in double quotes at line 1"),
        ("[1, 2]", "Enter a JSON object."),
        ('"text"', "Enter a JSON object."),
    ],
)
def test_generic_form_rejects_anything_but_a_json_object(typed: str, message: str) -> None:
    form = generic_variables_form({})
    values, errors = form.parse({"variables": [typed]})
    assert list(errors) == ["variables"]
    assert errors["variables"][0].startswith(message)
    assert dict(values) == {}
    assert values.raw == {"variables": [typed]}


def test_generic_form_emptied_box_means_no_variables() -> None:
    assert generic_variables_form({"a": 1}).parse({"variables": ["  "]}) == ({}, {})
