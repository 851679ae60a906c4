"""Form resources in a deployment: `.form` (Camunda Forms, form-js JSON) and `.schema.json`
(FlowSync JSON Schema forms).

A form is checked when it is deployed, by the same code that renders it in the Tasklist, so a
broken form is refused with the reason instead of failing in front of the person who opens
the task. Form ids: a `.form` file's "id" property (as Camunda links them with
`zeebe:formDefinition formId`); a `.schema.json` file's name without the suffix
(`invoice-approval.schema.json` → `invoice-approval`).
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from engine.bpmn import DefinitionError, Problem
from engine.definitions.resources import Resource
from engine.forms import FormDefinitionError, form_from_formjs, form_from_json_schema
from engine.keys import next_key
from engine.models import Deployment, Form
from flowsync.models import Tenant

FORMJS_SUFFIX = ".form"
SCHEMA_SUFFIX = ".schema.json"
_ID_RE = re.compile(r"^[\w.:-]{1,255}$")


def is_form_resource(name: str) -> bool:
    return name.lower().endswith((FORMJS_SUFFIX, SCHEMA_SUFFIX))


@dataclass(frozen=True)
class CompiledForm:
    resource_name: str
    form_id: str
    kind: str
    document: dict[str, Any]
    checksum: str
    source: str = ""  # the file's text: keeps the author's property order


def compile_forms(resources: list[Resource]) -> list[CompiledForm]:
    """Check every form resource; raise DefinitionError on the first bad one or a repeated id."""
    forms: list[CompiledForm] = []
    seen: dict[str, str] = {}
    for res in resources:
        form = compile_form(res)
        if form.form_id in seen:
            raise DefinitionError(res.name, [Problem(
                f"form id '{form.form_id}' is deployed twice in one request (also by {seen[form.form_id]})")])
        seen[form.form_id] = res.name
        forms.append(form)
    return forms


def compile_form(res: Resource) -> CompiledForm:
    try:
        document = json.loads(res.content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DefinitionError(res.name, [Problem(f"not valid JSON: {exc}")]) from None
    if not isinstance(document, dict):
        raise DefinitionError(res.name, [Problem("a form must be a JSON object")])
    basename = res.name.replace("\\", "/").rsplit("/", 1)[-1]
    if basename.lower().endswith(SCHEMA_SUFFIX):
        kind, form_id = Form.Kind.JSONSCHEMA, basename[: -len(SCHEMA_SUFFIX)]
        build = form_from_json_schema
    else:
        kind, form_id = Form.Kind.FORMJS, document.get("id")
        build = form_from_formjs
        if not isinstance(form_id, str) or not form_id.strip():
            raise DefinitionError(res.name, [Problem('a Camunda form needs an "id" to be linked by formId')])
    if not _ID_RE.match(form_id):
        raise DefinitionError(res.name, [Problem(
            f"form id '{form_id}' may use only letters, digits, '_', '.', ':' and '-' (at most 255)")])
    try:
        build(document)
    except FormDefinitionError as exc:
        raise DefinitionError(res.name, [Problem(str(exc))]) from None
    # Property order is part of a form (JSON Schema fields are shown in it), so the checksum keeps it.
    checksum = hashlib.sha256(json.dumps(document).encode() + kind.encode()).hexdigest()
    try:
        source = res.content.decode("utf-8-sig")
    except UnicodeDecodeError:  # JSON in UTF-16/32: the parsed document, in the same order
        source = json.dumps(document)
    return CompiledForm(res.name, form_id, kind, document, checksum, source)


def store_forms(tenant: Tenant, deployment: Deployment, forms: list[CompiledForm], now: datetime) -> list[Form]:
    """Store each form as the next version of its id (in the caller's transaction)."""
    return [_store(tenant, deployment, form, now) for form in forms]


def _store(tenant: Tenant, deployment: Deployment, form: CompiledForm, now: datetime) -> Form:
    if connection.vendor == "postgresql":
        # Serialize concurrent deployments of one form id so versions stay gapless and unique.
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"form:{tenant.pk}:{form.form_id}".encode())])
    latest = Form.objects.filter(tenant=tenant, form_id=form.form_id).order_by("-version").first()
    if latest is not None and latest.checksum == form.checksum and latest.kind == form.kind:
        return latest
    return Form.objects.create(
        key=next_key(),
        tenant=tenant,
        deployment=deployment,
        form_id=form.form_id,
        version=(latest.version + 1) if latest else 1,
        kind=form.kind,
        resource_name=form.resource_name[:255],
        checksum=form.checksum,
        document=form.document,
        source=form.source,
        created_at=now,
    )


def latest_form(tenant_id: int, form_id: str) -> Form | None:
    return Form.objects.filter(tenant_id=tenant_id, form_id=form_id).order_by("-version").first()
