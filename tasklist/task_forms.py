"""Which form a user task shows, wherever Camunda files keep it.

- ``formKey="camunda-forms:bpmn:<id>"``: a ``zeebe:userTaskForm`` embedded in the BPMN, kept
  with the deployed process graph;
- ``formId="<id>"``: the latest deployed ``.form`` (form-js) or ``.schema.json`` with that id;
- an external form reference: a link, plus the generic variables form;
- nothing: the generic variables form (one JSON editor).

A document is read into a ``tasklist.forms.Form`` by its content: form-js has "components",
anything else is taken as a JSON Schema — so an embedded form may be either dialect.
Parsed forms are cached by document text (deployed documents never change).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.definitions.cache import definition as cached_definition
from engine.definitions.cache import graph_of
from engine.definitions.forms import latest_form
from engine.models import ProcessDefinition, UserTask
from tasklist.forms import (
    Form,
    FormDefinitionError,
    form_from_formjs,
    form_from_json_schema,
    generic_variables_form,
)
from tasklist.forms.fields import walk

EMBEDDED_PREFIX = "camunda-forms:bpmn:"
_PLACEHOLDER_RE = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


@dataclass
class TaskForm:
    """The form to show for a task, or why there is none."""

    form: Form | None
    source: str  # "embedded", "deployed", "generic"
    form_id: str = ""
    version: int | None = None
    problem: str = ""  # why the task's own form cannot be shown
    external_url: str = ""

    @property
    def is_generic(self) -> bool:
        return self.source == "generic"

    def variable_names(self) -> set[str] | None:
        """Top-level variables the form reads (inputs and text placeholders); None = all of them."""
        if self.form is None or self.is_generic:
            return None
        names = {f.key[0] for f in self.form.inputs if f.key}
        for f in walk(self.form.fields):
            if f.kind == "static_text":
                names.update(m.group(1).split(".")[0] for m in _PLACEHOLDER_RE.finditer(f.text))
        return names


def form_for(task: UserTask) -> TaskForm:
    if task.form_key.startswith(EMBEDDED_PREFIX):
        form_id = task.form_key[len(EMBEDDED_PREFIX):]
        try:
            definition = cached_definition(task.process_definition_key)
        except ProcessDefinition.DoesNotExist:
            return _unavailable(form_id, "its process definition is gone")
        text = graph_of(definition).forms.get(form_id)
        if text is None:
            return _unavailable(form_id, f"the process does not embed a form with id '{form_id}'")
        return _built(text, "embedded", form_id, None)
    if task.form_id:
        row = latest_form(task.tenant_id, task.form_id)
        if row is None:
            return _unavailable(task.form_id, f"no form with id '{task.form_id}' is deployed")
        # The deployed text, in the author's order (the jsonb document has its keys sorted).
        return _built(row.text, "deployed", task.form_id, row.version)
    if task.form_key:
        return _unavailable(task.form_key, f"form key '{task.form_key}' is not one the Tasklist can show")
    external = task.external_form_reference
    return TaskForm(generic_variables_form(), "generic", external_url=external if _is_web_url(external) else "")


def _built(text: str, source: str, form_id: str, version: int | None) -> TaskForm:
    try:
        return TaskForm(parse_document(text), source, form_id, version)
    except FormDefinitionError as exc:
        return _unavailable(form_id, f"the form is broken: {exc}")


def _unavailable(form_id: str, why: str) -> TaskForm:
    return TaskForm(None, "missing", form_id, problem=f"This task's form cannot be shown: {why}.")


@functools.lru_cache(maxsize=256)
def parse_document(text: str) -> Form:
    """form-js or JSON Schema text -> Form (cached; Form objects are read-only after building)."""
    try:
        doc: Any = json.loads(text)
    except json.JSONDecodeError:
        return form_from_formjs(text)  # raises FormDefinitionError with the position
    if isinstance(doc, Mapping) and "components" in doc:
        return form_from_formjs(doc)
    return form_from_json_schema(doc)


def _is_web_url(value: str) -> bool:
    return value.startswith(("https://", "http://", "/"))
