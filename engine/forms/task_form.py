"""Which form a user task shows, wherever Camunda files keep it.

- ``formKey="camunda-forms:bpmn:<id>"``: a ``zeebe:userTaskForm`` embedded in the BPMN, kept
  with the deployed process graph;
- ``formId="<id>"``: the latest deployed ``.form`` (form-js) or ``.schema.json`` with that id;
- an external form reference: a link, plus the generic variables form;
- nothing: the generic variables form (one JSON editor).

A document is read into a ``engine.forms.Form`` by its content: form-js has "components",
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
from engine.forms import (
    Form,
    FormDefinitionError,
    form_from_formjs,
    form_from_json_schema,
    generic_variables_form,
)
from engine.forms.fields import walk
from engine.models import ProcessDefinition, UserTask

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


@dataclass(frozen=True)
class FormSource:
    """Where a task's form document comes from: the one answer the Tasklist and the API both give."""

    origin: str  # "embedded", "deployed", "generic" (no form of its own), "missing"
    form_id: str = ""
    text: str = ""  # the document as deployed (the author's key order)
    version: int | None = None
    key: int | None = None  # the Form row's key; for an embedded form, its definition's key
    problem: str = ""  # why the task's own form cannot be had
    external_reference: str = ""


def form_source(task: UserTask) -> FormSource:
    """Which form document a user task shows."""
    if task.form_key.startswith(EMBEDDED_PREFIX):
        form_id = task.form_key[len(EMBEDDED_PREFIX):]
        try:
            definition = cached_definition(task.process_definition_key)
        except ProcessDefinition.DoesNotExist:
            return FormSource("missing", form_id, problem="its process definition is gone")
        text = graph_of(definition).forms.get(form_id)
        if text is None:
            return FormSource("missing", form_id,
                              problem=f"the process does not embed a form with id '{form_id}'")
        return FormSource("embedded", form_id, text, definition.version, definition.key)
    if task.form_id:
        row = latest_form(task.tenant_id, task.form_id)
        if row is None:
            return FormSource("missing", task.form_id, problem=f"no form with id '{task.form_id}' is deployed")
        return FormSource("deployed", task.form_id, row.text, row.version, row.key)
    if task.form_key:
        return FormSource("missing", task.form_key,
                          problem=f"form key '{task.form_key}' is not one FlowSync can show")
    return FormSource("generic", external_reference=task.external_form_reference)


def form_for(task: UserTask) -> TaskForm:
    """The form the Tasklist shows: the task's own, parsed, or the generic variables form."""
    source = form_source(task)
    if source.origin == "missing":
        return _unavailable(source.form_id, source.problem)
    if source.origin == "generic":
        external = source.external_reference
        return TaskForm(generic_variables_form(), "generic", external_url=external if _is_web_url(external) else "")
    return _built(source.text, source.origin, source.form_id, source.version if source.origin == "deployed" else None)


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
