"""Field tree + values + errors -> accessible HTML, through small Django templates.

All markup lives in tasklist/templates/forms/ (one template per widget kind) and
is autoescaped; this module only prepares plain-string contexts. A private template Engine
is used so the module renders without a configured Django project (tests, scripts, workers).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.template import Context, Engine
from django.utils.safestring import SafeString, mark_safe

from .fields import MISSING, Field, get_path, option_token
from .validate import FORM_ERRORS, number_text

if TYPE_CHECKING:
    from .form import Form

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
PREFIX = "forms/"

_INPUT_TYPES = {
    "text": "text",
    "email": "email",
    "tel": "tel",
    "number": "number",
    "integer": "number",
    "date": "date",
    "time": "time",
    "datetime": "datetime-local",
}
_TEXTAREA_KINDS = {"textarea", "lines", "json"}
_PLACEHOLDER_RE = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")
_HEADING_RE = re.compile(r"^#{1,6}\s+")


@functools.cache
def engine() -> Engine:
    # debug=False keeps the cached loader: templates are parsed once per process.
    return Engine(dirs=[str(TEMPLATE_DIR)], autoescape=True, debug=False)


def _render(template: str, context: dict[str, Any]) -> SafeString:
    # use_l10n/use_tz off: every value is pre-formatted here, and localisation would need settings.
    ctx = Context(context, autoescape=True, use_l10n=False, use_tz=False)
    return mark_safe(engine().get_template(PREFIX + template).render(ctx))


class _Page:
    """Per-render state: values, errors and the ids already handed out."""

    def __init__(
        self,
        values: Mapping[str, Any],
        errors: Mapping[str, list[str]],
        tz: dt.tzinfo,
        variables: Mapping[str, Any],
    ):
        self.values = values
        self.variables = variables
        self.errors = errors
        self.tz = tz
        self.raw: Mapping[str, list[str]] = getattr(values, "raw", {})
        self._ids: set[str] = set()

    def new_id(self, name: str) -> str:
        base = "field-" + (re.sub(r"\s+", "_", name) or "form")
        candidate, n = base, 1
        while candidate in self._ids:
            n += 1
            candidate = f"{base}-{n}"
        self._ids.add(candidate)
        return candidate


def render_form(
    form: Form,
    values: Mapping[str, Any],
    errors: Mapping[str, list[str]],
    tz: dt.tzinfo,
    variables: Mapping[str, Any],
) -> SafeString:
    page = _Page(values, errors, tz, variables)
    body = _render_list(form.fields, page)
    # Errors for names the form does not show (should not happen) still reach the person.
    shown = {f.name for f in form.inputs}
    form_errors = list(errors.get(FORM_ERRORS, []))
    for name, messages in errors.items():
        if name != FORM_ERRORS and name not in shown:
            form_errors.extend(f"{name}: {m}" for m in messages)
    return _render("form.html", {"body": body, "form_errors": form_errors})


def _render_list(fields: list[Field], page: _Page) -> SafeString:
    parts: list[str] = []
    # form-js puts fields side by side by giving them the same layout.row; keep that as a hint.
    for row, group in itertools.groupby(fields, key=lambda f: f.layout.get("row") or None):
        rendered = [_render_field(f, page) for f in group]
        if row is not None and len(rendered) > 1:
            parts.append(_render("row.html", {"items": rendered}))
        else:
            parts.extend(rendered)
    return mark_safe("\n".join(parts))


def _css(field: Field, errors: list[str]) -> str:
    classes = ["form-field", f"form-field--{field.kind}"]
    columns = field.layout.get("columns")
    if isinstance(columns, int) and not isinstance(columns, bool) and 1 <= columns <= 16:
        classes.append(f"form-col-{columns}")
    if errors:
        classes.append("has-error")
    return " ".join(classes)


def _render_field(field: Field, page: _Page) -> SafeString:
    if field.kind == "group":
        desc_id = page.new_id(field.name or "group") + "-description" if field.description else ""
        return _render(
            "widgets/group.html",
            {
                "label": field.label,
                "description": field.description,
                "desc_id": desc_id,
                "css": _css(field, []),
                "children": _render_list(field.children, page),
            },
        )
    if field.kind == "static_text":
        return _render("widgets/static_text.html", {"paragraphs": _paragraphs(field.text, page.variables)})
    if field.kind == "spacer":
        height = field.constraints.get("height")
        height = str(int(height)) if isinstance(height, (int, float)) and not isinstance(height, bool) else ""
        return _render("widgets/spacer.html", {"height": height})
    if field.kind == "separator":
        return _render("widgets/separator.html", {})
    if field.kind == "unsupported":
        return _render("widgets/unsupported.html", {"label": field.label, "text": field.text})
    return _render_input(field, page)


def _render_input(field: Field, page: _Page) -> SafeString:
    errors = list(page.errors.get(field.name, []))
    field_id = page.new_id(field.name)
    desc_id = f"{field_id}-description" if field.description else ""
    error_id = f"{field_id}-error" if errors else ""
    editable = not field.locked
    context: dict[str, Any] = {
        "id": field_id,
        "name": field.name,
        "label": field.label,
        "description": field.description,
        "desc_id": desc_id,
        "errors": errors,
        "error_id": error_id,
        "describedby": " ".join(i for i in (desc_id, error_id) if i),
        "css": _css(field, errors),
        "show_required": field.required and editable,
        "required_attr": field.required and editable,
        # readonly cannot be expressed on checkboxes, radios and selects: they get disabled.
        "readonly": field.readonly and not field.disabled,
        "disabled": field.disabled,
        "locked": field.locked,
    }
    raw = page.raw.get(field.name)
    value = get_path(page.values, field.key)

    if field.kind == "checkbox":
        context["checked"] = (
            value is True if raw is None else any(r.lower() in {"on", "true", "1"} for r in raw)
        )
        return _render("widgets/checkbox.html", context)

    if field.kind in ("radio", "checklist", "select"):
        if raw is not None:
            chosen = set(raw)
        elif value is MISSING or value is None:
            chosen = set()
        else:
            chosen = {option_token(v) for v in (value if isinstance(value, list) else [value])}
        context["options"] = [
            {"id": f"{field_id}-{i}", "token": o.token, "label": o.label, "checked": o.token in chosen}
            for i, o in enumerate(field.options, start=1)
        ]
        if field.kind == "select":
            return _render("widgets/select.html", context)
        context["input_type"] = "radio" if field.kind == "radio" else "checkbox"
        # HTML `required` on checkboxes would demand every box; only radios can use it.
        context["required_attr"] = context["required_attr"] and field.kind == "radio"
        return _render("widgets/choices.html", context)

    context["value"] = "\n".join(raw) if raw is not None else _value_text(field, value, page.tz)
    context["attrs"] = _attrs(field)
    if field.kind in _TEXTAREA_KINDS:
        lines = context["value"].count("\n") + 2
        default_rows = min(max(lines, 6), 30) if field.kind == "json" else max(4, min(lines, 12))
        context["rows"] = str(field.constraints.get("rows") or default_rows)
        return _render("widgets/textarea.html", context)
    context["input_type"] = _INPUT_TYPES[field.kind]
    if raw is not None and field.kind in ("number", "integer"):
        # Browsers blank a number input whose value is not a number; show the typed text instead.
        context["input_type"] = "text"
    return _render("widgets/input.html", context)


def _value_text(field: Field, value: Any, tz: dt.tzinfo) -> str:
    if value is MISSING or value is None:
        return ""
    if field.kind == "json":
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if field.kind == "lines":
        items = value if isinstance(value, list) else [value]
        return "\n".join(number_text(v) for v in items)
    if field.kind in ("number", "integer"):
        return number_text(value)
    if field.kind == "datetime" and isinstance(value, str):
        return _datetime_local(value, tz)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return number_text(value) if isinstance(value, (int, float)) else str(value)


def _datetime_local(value: str, tz: dt.tzinfo) -> str:
    """An RFC 3339 string -> the offset-less local form a datetime-local input expects."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return value  # not a date-time: show it as is, validation will say what is wrong
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(tz).replace(tzinfo=None)
    return parsed.isoformat(timespec="seconds" if parsed.second else "minutes")


def _attrs(field: Field) -> list[tuple[str, str]]:
    """Browser-side hints that mirror the server rules (the server still checks everything)."""
    c = field.constraints
    attrs: list[tuple[str, str]] = []
    if field.kind in ("text", "email", "tel", "textarea"):
        for key, attr in (("minLength", "minlength"), ("maxLength", "maxlength")):
            if isinstance(c.get(key), int):
                attrs.append((attr, str(c[key])))
    if field.kind in ("number", "integer"):
        for key, attr in (("minimum", "min"), ("maximum", "max")):
            if isinstance(c.get(key), (int, float)) and not isinstance(c.get(key), bool):
                attrs.append((attr, number_text(c[key])))
        digits = c.get("decimalDigits")
        if field.kind == "integer" or digits == 0:
            step = "1"
        elif isinstance(digits, int) and digits > 0:
            step = "0." + "0" * (digits - 1) + "1"
        else:
            step = "any"
        attrs.append(("step", step))
        attrs.append(("inputmode", "numeric" if step == "1" else "decimal"))
    if field.kind == "email":
        attrs.append(("autocomplete", "email"))
    if field.kind == "datetime":
        attrs.append(("step", "1"))  # allow seconds, so stored values with seconds re-display
    return attrs


def _paragraphs(text: str, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Static markdown as plain paragraphs: blank lines split, `# ` lines become headings.

    No markdown-to-HTML conversion on purpose: the text is shown escaped, so a form cannot
    inject markup into the Tasklist. ``{{ path }}`` placeholders show process variables.
    """
    if text.lstrip().startswith("="):
        return [
            {
                "heading": False,
                "lines": ["(This text is computed by an expression the Tasklist cannot show.)"],
            }
        ]

    def substitute(match: re.Match[str]) -> str:
        value = get_path(values, tuple(match.group(1).split(".")))
        if value is MISSING or value is None or isinstance(value, (dict, list)):
            return ""
        return number_text(value) if isinstance(value, (int, float)) else str(value)

    text = _PLACEHOLDER_RE.sub(substitute, text.replace("\r\n", "\n"))
    paragraphs: list[dict[str, Any]] = []
    for block in re.split(r"\n\s*\n", text):
        current: list[str] = []
        for line in block.split("\n"):
            if not line.strip():
                continue
            if _HEADING_RE.match(line.strip()):
                if current:
                    paragraphs.append({"heading": False, "lines": current})
                    current = []
                paragraphs.append({"heading": True, "lines": [_HEADING_RE.sub("", line.strip())]})
            else:
                current.append(line.strip())
        if current:
            paragraphs.append({"heading": False, "lines": current})
    return paragraphs
