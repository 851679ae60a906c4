"""The form of a task that has none: its variables as one JSON text box."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .fields import Field
from .form import Form
from .formjs import JSON_SCHEMA_DIALECT


def generic_variables_form(variables: Mapping[str, Any] | None = None) -> Form:
    """One textarea named ``variables`` holding the JSON of ``variables``.

    The field is bound to the whole variables object (empty key path), so ``parse`` returns
    the object that was typed, ready to become process variables; anything but a JSON object
    is an error on the ``variables`` field. An emptied box means "no variables".
    """
    field = Field(
        kind="json",
        key=(),
        name="variables",
        label="Variables",
        description='The task\'s variables as a JSON object, for example {"approved": true}.',
        default=dict(variables or {}),
    )
    schema = {"$schema": JSON_SCHEMA_DIALECT, "type": "object"}
    return Form([field], schema, dialect="generic")
