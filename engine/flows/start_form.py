"""The form a person starts a flow run with (admin and Inspector), built from the flow's `inputs` JSON Schema
by engine/forms — the same renderer and validator as a user task's JSON Schema form. A flow without
`inputs`, or one the form builder cannot draw, gets the generic JSON variables form; the run's input is
checked against `inputs` by engine.actions.flows.start_run either way, and what it refuses comes back
as errors on the fields its JSON Pointers name.
"""

from __future__ import annotations

import json
from typing import Any

from engine.forms import Form, FormDefinitionError, form_from_json_schema, generic_variables_form
from engine.forms.validate import FORM_ERRORS
from engine.models import ProcessDefinition


def start_form(definition: ProcessDefinition) -> Form:
    schema = json.loads(definition.source).get("inputs")
    if isinstance(schema, dict) and schema.get("properties"):
        try:
            return form_from_json_schema({"type": "object", **schema})
        except FormDefinitionError:
            pass  # a schema the form builder cannot draw: the JSON form below, checked the same way
    return generic_variables_form({})


def problem_errors(form: Form, problems: list[dict[str, Any]], detail: str) -> dict[str, list[str]]:
    """A refused input's problems ({pointer, message}) as form errors by field name (else on the form)."""
    names = {f.name for f in form.inputs}
    errors: dict[str, list[str]] = {}
    for problem in problems or [{"pointer": "", "message": detail}]:
        name = ".".join(part for part in str(problem.get("pointer", "")).split("/") if part)
        errors.setdefault(name if name in names else FORM_ERRORS, []).append(str(problem.get("message", detail)))
    return errors
