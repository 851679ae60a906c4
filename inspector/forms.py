"""Inspector forms: the instance filters and the repair forms (validated here, applied by operations)."""

from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.utils import timezone

from engine.models import Incident, ProcessInstance
from engine.queries.inspector import SORTS, InstanceFilters


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
    var_name = forms.CharField(required=False, max_length=255, label="Variable name")
    var_value = forms.CharField(required=False, max_length=10_000, label="Variable value (JSON)")
    started_from = forms.DateField(required=False, label="Started from", widget=forms.DateInput(attrs={"type": "date"}))
    started_to = forms.DateField(required=False, label="Started until", widget=forms.DateInput(attrs={"type": "date"}))
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
                try:
                    data["parsed_value"] = json.loads(raw)
                except ValueError:
                    self.add_error("var_value", "Not valid JSON; write strings in double quotes, e.g. \"gold\".")
        start, end = data.get("started_from"), data.get("started_to")
        if start and end and end < start:
            self.add_error("started_to", "The end of the range is before its start.")
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
            started_from=_day_start(d.get("started_from")),
            started_to=_day_start(d.get("started_to"), 1),
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
