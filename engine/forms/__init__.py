"""Server-side forms for human tasks: one engine, two input dialects.

Camunda Forms (form-js JSON) and FlowSync JSON Schema forms are both converted into one
normalized field tree (``Field``) and one JSON Schema, so a single renderer and a single
validator serve both::

    form = form_from_formjs(doc)            # or form_from_json_schema(schema)
    html = form.render(form.initial_values(task_variables))
    values, errors = form.parse(request.POST)
    if errors:
        html = form.render(form.redisplay_values(task_variables, values), errors)
    else:
        complete_task(..., variables=values)

No database access, and no configured Django project needed (templates render through a
private ``django.template.Engine``).
"""

from __future__ import annotations

from .errors import FormDefinitionError
from .fields import Field, Option
from .form import Form, SubmittedValues
from .formjs import form_from_formjs
from .generic import generic_variables_form
from .jsonschema_form import form_from_json_schema

__all__ = [
    "Field",
    "Form",
    "FormDefinitionError",
    "Option",
    "SubmittedValues",
    "form_from_formjs",
    "form_from_json_schema",
    "generic_variables_form",
]
