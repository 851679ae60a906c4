"""Rendered HTML: labelled, described, escaped, and keeping what the person typed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils.safestring import SafeString

from engine.forms import form_from_formjs, form_from_json_schema, generic_variables_form

FORM_CONTROLS = ("input", "select", "textarea")


@pytest.fixture(params=["formjs", "jsonschema"])
def form(request: pytest.FixtureRequest, formjs_doc: dict[str, Any], schema_doc: dict[str, Any]):  # type: ignore[no-untyped-def]
    """The invoice form from either dialect: the markup rules hold for both."""
    return form_from_formjs(formjs_doc) if request.param == "formjs" else form_from_json_schema(schema_doc)


def test_every_control_has_a_linked_label_and_valid_describedby(form, parse_html: Callable) -> None:  # type: ignore[no-untyped-def]
    values, errors = form.parse({"age": ["abc"], "email": ["nope"]})
    html = form.render(form.redisplay_values({}, values), errors)
    assert isinstance(html, SafeString)
    dom = parse_html(html)

    controls = [n for n in dom.iter() if n.tag in FORM_CONTROLS]
    assert len(controls) >= 15
    ids = [n.attrs["id"] for n in dom.iter() if "id" in n.attrs]
    assert len(ids) == len(set(ids)), "ids must be unique"
    for control in controls:
        labels = dom.find_all("label", for_=control.attrs["id"])
        assert len(labels) == 1 and labels[0].text, f"{control.attrs} has no label"
        for ref in (control.attrs.get("aria-describedby") or "").split():
            dom.by_id(ref)  # every reference points at something that exists


def test_names_are_key_paths_and_required_is_marked(form, parse_html: Callable) -> None:  # type: ignore[no-untyped-def]
    dom = parse_html(form.render(form.initial_values({})))

    city = dom.find("input", name="customer.address.city")
    assert "required" in city.attrs
    label = dom.find("label", for_=city.attrs["id"])
    assert label.find("span").has_class("required-marker")
    assert "*" in label.text

    zip_input = dom.find("input", name="customer.address.zip")
    assert "required" not in zip_input.attrs
    assert not dom.find("label", for_=zip_input.attrs["id"]).find_all("span")

    radios = dom.find_all("input", name="priority")
    assert len(radios) == 3 and all("required" in r.attrs for r in radios)
    legend = radios[0].parent.parent.find("legend")
    assert legend.text.startswith("Priority")

    # Checklists cannot use `required` (it would demand every box); this one is optional anyway.
    assert all("required" not in c.attrs for c in dom.find_all("input", name="checks"))


def test_description_is_linked_with_aria_describedby(form, parse_html: Callable) -> None:  # type: ignore[no-untyped-def]
    dom = parse_html(form.render({}))
    name = dom.find("input", name="approverName")
    description = dom.by_id(name.attrs["aria-describedby"])
    assert description.text == "As printed on your badge"
    assert description.has_class("field-description")


def test_errors_are_shown_beside_their_field(form, parse_html: Callable) -> None:  # type: ignore[no-untyped-def]
    values, errors = form.parse({"approverName": ["x"], "age": ["12"]})
    dom = parse_html(form.render(values, errors))

    age = dom.find("input", name="age")
    assert age.attrs.get("aria-invalid") == "true"
    error = dom.by_id(f"{age.attrs['id']}-error")
    assert error.has_class("field-error")
    assert error.text == "Must be at least 18."
    assert error.parent is age.parent  # in the same field wrapper, not in a list at the top
    assert age.attrs["aria-describedby"].split()[-1] == error.attrs["id"]

    name = dom.find("input", name="approverName")
    assert name.attrs["aria-describedby"].split() == [
        f"{name.attrs['id']}-description",
        f"{name.attrs['id']}-error",
    ]
    assert "Enter at least 2 characters." in dom.by_id(f"{name.attrs['id']}-error").text
    city_error = dom.find("input", name="customer.address.city").parent.find(class_="field-error")
    assert city_error.text == "This field is required."
    assert "aria-invalid" not in dom.find("input", name="email").attrs


def test_typed_values_are_kept_on_rerender(form, parse_html: Callable) -> None:  # type: ignore[no-untyped-def]
    data = {
        "approverName": ["ada"],
        "age": ["forty"],
        "email": ["ada@example.com"],
        "approved": ["true"],
        "priority": ["low"],
        "costCentre": ["CC-100"],
        "checks": ["goods", "vat"],
        "comment": ["two\nlines"],
        "paymentDate": ["2024-05-31"],
        "customer.address.zip": ["0150"],
    }
    values, errors = form.parse(data)
    assert errors
    dom = parse_html(form.render(form.redisplay_values({"amount": 77.5}, values), errors))

    assert dom.find("input", name="approverName").attrs["value"] == "ada"
    age = dom.find("input", name="age")
    assert (age.attrs["value"], age.attrs["type"]) == ("forty", "text")  # a number input would blank it
    assert dom.find("input", name="email").attrs["value"] == "ada@example.com"
    assert "checked" in dom.find("input", name="approved").attrs
    assert [r.attrs["value"] for r in dom.find_all("input", name="priority") if "checked" in r.attrs] == [
        "low"
    ]
    assert [
        o.attrs["value"]
        for o in dom.find("select", name="costCentre").find_all("option")
        if "selected" in o.attrs
    ] == ["CC-100"]
    assert [c.attrs["value"] for c in dom.find_all("input", name="checks") if "checked" in c.attrs] == [
        "goods",
        "vat",
    ]
    assert dom.find("textarea", name="comment").text == "two lines"
    assert dom.find("input", name="paymentDate").attrs["value"] == "2024-05-31"
    assert dom.find("input", name="customer.address.zip").attrs["value"] == "0150"
    amount = dom.find("input", name="amount")
    assert amount.attrs["value"] == "77.5"
    assert "disabled" in amount.attrs or "readonly" in amount.attrs


def test_groups_and_objects_are_fieldsets_with_legends(form, parse_html: Callable) -> None:  # type: ignore[no-untyped-def]
    dom = parse_html(form.render({}))
    city = dom.find("input", name="customer.address.city")
    fieldset = next(a for a in city.ancestors() if a.tag == "fieldset")
    assert fieldset.find("legend").text in ("Supplier address", "Address")


def test_labels_and_texts_are_escaped(parse_html: Callable) -> None:
    form = form_from_formjs(
        {
            "components": [
                {"type": "text", "text": "# Hi <img src=x onerror=alert(1)>\n\nLine one\nline <b>two</b>"},
                {
                    "type": "textfield",
                    "key": "name",
                    "label": "Name <script>alert(1)</script>",
                    "description": '"quoted" & <i>',
                },
                {
                    "type": "select",
                    "key": "pick",
                    "label": "Pick",
                    "values": [{"label": "<b>bold</b>", "value": '"><script>'}],
                },
            ]
        }
    )
    html = str(form.render({"name": '"><script>alert(2)</script>'}))
    assert "<script>" not in html and "<img" not in html and "<b>" not in html and "<i>" not in html
    assert "Name &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'value="&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"' in html

    dom = parse_html(html)
    paragraphs = dom.find("div", class_="form-text").find_all("p")
    assert [p.text for p in paragraphs] == ["Hi <img src=x onerror=alert(1)>", "Line one line <b>two</b>"]
    assert paragraphs[0].has_class("form-text-heading")
    assert paragraphs[1].find_all("br")
    assert dom.find("option", value='"><script>').text == "<b>bold</b>"


def test_static_text_fills_in_variables(parse_html: Callable, formjs_doc: dict[str, Any]) -> None:
    form = form_from_formjs(formjs_doc)
    variables = {"supplier": "ACME <Ltd>"}
    dom = parse_html(form.render(form.initial_values(variables), variables=variables))
    text = dom.find("div", class_="form-text").text
    assert "Check the invoice of ACME <Ltd> and decide." in text


def test_unsupported_components_render_a_clear_note(parse_html: Callable) -> None:
    form = form_from_formjs(
        {
            "components": [
                {"type": "iframe", "label": "Map", "url": "https://example.com"},
                {"type": "textfield", "key": "a", "label": "A"},
            ]
        }
    )
    dom = parse_html(form.render({}))
    note = dom.find("div", class_="form-unsupported")
    assert note.attrs["role"] == "note"
    assert "Unsupported field: Map" in note.text and "iframe" in note.text
    assert dom.find("input", name="a")
    assert not dom.find_all("iframe")


def test_layout_rows_are_a_css_hint(parse_html: Callable, formjs_doc: dict[str, Any]) -> None:
    dom = parse_html(form_from_formjs(formjs_doc).render({}))
    row = dom.find("input", name="approverName").parent.parent
    assert row.has_class("form-row")
    assert row.find("input", name="age")
    assert dom.find("input", name="approverName").parent.has_class("form-col-8")


def test_number_and_date_inputs_carry_browser_hints(parse_html: Callable, formjs_doc: dict[str, Any]) -> None:
    form = form_from_formjs(formjs_doc)
    dom = parse_html(form.render({"amount": 10.5, "age": 30}))
    age = dom.find("input", name="age")
    assert (age.attrs["type"], age.attrs["min"], age.attrs["max"], age.attrs["value"]) == (
        "number",
        "18",
        "99",
        "30",
    )
    assert dom.find("input", name="amount").attrs["step"] == "0.01"
    assert dom.find("input", name="paymentDate").attrs["type"] == "date"
    assert dom.find("input", name="email").attrs["type"] == "email"
    assert dom.find("input", name="approverName").attrs["maxlength"] == "50"


def test_datetime_values_are_shown_in_the_persons_time_zone(parse_html: Callable) -> None:
    from zoneinfo import ZoneInfo

    form = form_from_json_schema(
        {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}
    )
    html = form.render({"at": "2024-03-31T08:30:00Z"}, tz=ZoneInfo("Europe/Berlin"))
    at = parse_html(html).find("input", name="at")
    assert (at.attrs["type"], at.attrs["value"]) == ("datetime-local", "2024-03-31T10:30")


def test_generic_form_renders_one_json_textarea(parse_html: Callable) -> None:
    form = generic_variables_form({"amount": 12, "note": "<b>hi</b>"})
    dom = parse_html(form.render(form.initial_values({"amount": 12, "note": "<b>hi</b>"})))
    box = dom.find("textarea", name="variables")
    assert dom.find("label", for_=box.attrs["id"]).text == "Variables"
    assert '"amount": 12' in box.text and '"note": "<b>hi</b>"' in box.text
    assert "required" not in box.attrs

    values, errors = form.parse({"variables": ["{oops"]})
    dom = parse_html(form.render(values, errors))
    box = dom.find("textarea", name="variables")
    assert box.text == "{oops"
    assert dom.by_id(f"{box.attrs['id']}-error").text.startswith("Enter valid JSON")


def test_form_level_errors_are_shown_at_the_top(parse_html: Callable) -> None:
    form = form_from_formjs({"components": [{"type": "textfield", "key": "a", "label": "A"}]})
    dom = parse_html(form.render({}, {"": ["The task was completed by someone else."]}))
    top = dom.by_id("form-errors")
    assert top.has_class("field-error") and top.attrs["role"] == "alert"
    assert top.text == "The task was completed by someone else."


def test_renders_without_a_configured_django_project() -> None:
    """The form engine needs no Django settings: render in a fresh interpreter that has none."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "from engine.forms import form_from_formjs\n"
        "doc = {'components': [{'type': 'textfield', 'key': 'approverName', 'label': 'Approver'}]}\n"
        "print(form_from_formjs(doc).render({}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    assert 'name="approverName"' in out.stdout
