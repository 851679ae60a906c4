"""Inspector forms: the instance filters and the repair forms (validated here, applied by operations)."""

from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.utils import timezone

from engine.models import Incident, ProcessInstance
from engine.queries.inspector import SORTS, VARIABLE_OPS, InstanceFilters
from engine.queries.inspector_overview import INCIDENT_GROUPS


class InstanceFilterForm(forms.Form):
    process = forms.CharField(required=False, max_length=255, label="Process")
    version = forms.IntegerField(required=False, min_value=1, label="Version")
    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *ProcessInstance.State.choices])
    incident = forms.ChoiceField(
        required=False, choices=[("", "Any"), ("yes", "With incident"), ("no", "Without incident")],
        label="Incidents",
    )
    business_key = forms.CharField(required=False, max_length=255, label="Business key")
    key = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, label="Instance key")
    parent = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, label="Parent instance key")
    tenant = forms.CharField(required=False, max_length=255, label="Tenant")
    incident_type = forms.CharField(required=False, max_length=40, label="Incident type")
    incident_message = forms.CharField(required=False, max_length=1000, label="Incident message contains")
    incident_element = forms.CharField(required=False, max_length=255, label="Incident at element id")
    active_element = forms.CharField(required=False, max_length=255, label="Active element id")
    var_name = forms.CharField(required=False, max_length=255, label="Variable name")
    var_op = forms.ChoiceField(required=False, choices=list(VARIABLE_OPS.items()), label="Comparison")
    var_value = forms.CharField(required=False, max_length=10_000, label="Variable value (JSON)")
    started_from = forms.DateField(required=False, label="Started from", widget=forms.DateInput(attrs={"type": "date"}))
    started_to = forms.DateField(required=False, label="Started until", widget=forms.DateInput(attrs={"type": "date"}))
    ended_from = forms.DateField(required=False, label="Ended from", widget=forms.DateInput(attrs={"type": "date"}))
    ended_to = forms.DateField(required=False, label="Ended until", widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(required=False, choices=list(SORTS.items()))

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        name, raw = data.get("var_name", ""), data.get("var_value", "")
        if raw and not name:
            self.add_error("var_name", "Give the variable's name to filter by its value.")
        if name:
            if not raw:
                self.add_error("var_value", "Give the value to look for, as JSON (e.g. \"gold\", 42, true).")
            else:
                op = data.get("var_op") or "="
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    if op != "contains":
                        self.add_error("var_value", "Not valid JSON; write strings in double quotes, e.g. \"gold\".")
                    parsed = raw  # 'contains' takes plain text too
                if op in (">", "<") and (isinstance(parsed, bool) or not isinstance(parsed, (int, float))):
                    self.add_error("var_value", "Greater / less than compare numbers: give a number, e.g. 100.")
                elif op == "contains" and not isinstance(parsed, str):
                    parsed = raw
                data["parsed_value"] = parsed
        for first, last in (("started_from", "started_to"), ("ended_from", "ended_to")):
            start, end = data.get(first), data.get(last)
            if start and end and end < start:
                self.add_error(last, "The end of the range is before its start.")
        return data

    def filters(self) -> InstanceFilters:
        d = self.cleaned_data
        incident = {"yes": True, "no": False}.get(d.get("incident") or "")
        return InstanceFilters(
            process=(d.get("process") or "").strip(),
            version=d.get("version"),
            state=d.get("state") or "",
            incident=incident,
            business_key=(d.get("business_key") or "").strip(),
            key=d.get("key"),
            var_name=(d.get("var_name") or "").strip(),
            var_value=d.get("parsed_value"),
            var_op=d.get("var_op") or "=",
            active_element=(d.get("active_element") or "").strip(),
            incident_type=(d.get("incident_type") or "").strip(),
            incident_message=(d.get("incident_message") or "").strip(),
            incident_element=(d.get("incident_element") or "").strip(),
            parent=d.get("parent"),
            started_from=_day_start(d.get("started_from")),
            started_to=_day_start(d.get("started_to"), 1),
            ended_from=_day_start(d.get("ended_from")),
            ended_to=_day_start(d.get("ended_to"), 1),
        )


def _day_start(day: dt.date | None, plus: int = 0) -> dt.datetime | None:
    if day is None:
        return None
    return dt.datetime.combine(day + dt.timedelta(days=plus), dt.time(), tzinfo=timezone.get_current_timezone())


class VariableForm(forms.Form):
    name = forms.CharField(max_length=255)
    value = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}), required=True,
                            help_text="JSON: \"text\", 42, true, null, {...}, [...]")


class RetryForm(forms.Form):
    retries = forms.IntegerField(required=False, min_value=1, max_value=1000, initial=1)


class IncidentFilterForm(forms.Form):
    state = forms.ChoiceField(required=False, choices=[*Incident.State.choices, ("all", "All")])
    process = forms.CharField(required=False, max_length=255)
    group = forms.ChoiceField(required=False, choices=[("", "Each incident"), *INCIDENT_GROUPS.items()])


class SavedFilterForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name of this filter")
    query = forms.CharField(max_length=4000, required=False, widget=forms.HiddenInput)


class ModifyForm(forms.Form):
    """Move a token, activate an element or terminate an element instance (one modification)."""

    OPERATIONS = [("move", "Move a token"), ("activate", "Activate an element"), ("terminate", "Terminate a token")]

    operation = forms.ChoiceField(choices=OPERATIONS, initial="move")
    source = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Token")
    target = forms.ChoiceField(required=False, label="Target element")
    variables = forms.CharField(
        required=False, max_length=100_000, label="Variables of the target (JSON object)",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
    )

    def __init__(self, *args, sources: list[tuple[int, str]], targets: list[tuple[str, str]],
                 **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [("", "—"), *sources]
        self.fields["target"].choices = [("", "—"), *targets]

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        operation = data.get("operation")
        if operation in ("move", "terminate") and not data.get("source"):
            self.add_error("source", "Choose the token (active element instance).")
        if operation in ("move", "activate") and not data.get("target"):
            self.add_error("target", "Choose the element to activate.")
        raw = (data.get("variables") or "").strip()
        data["parsed_variables"] = {}
        if raw:
            if operation == "terminate":
                self.add_error("variables", "A termination takes no variables.")
            else:
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    parsed = None
                if not isinstance(parsed, dict):
                    self.add_error("variables", 'Write a JSON object, e.g. {"approved": true}.')
                else:
                    data["parsed_variables"] = parsed
        return data
