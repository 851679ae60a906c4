"""Accept a form definition as a dict or as its JSON text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .errors import FormDefinitionError


def load_document(doc: Mapping[str, Any] | str | bytes, what: str) -> Mapping[str, Any]:
    # zeebe:userTaskForm and deployed form resources hold JSON text; accept it directly.
    if isinstance(doc, (str, bytes, bytearray)):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError as exc:
            raise FormDefinitionError(
                f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from None
    if not isinstance(doc, Mapping):
        raise FormDefinitionError(f"{what} must be a JSON object, got {type(doc).__name__}.")
    return doc
