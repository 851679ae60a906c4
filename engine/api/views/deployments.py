"""POST /v2/deployments: multipart `resources` (several at once) and an optional `tenantId`."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from engine.api import shapes
from engine.api.base import ApiView, idempotent, principal, tenant_for
from engine.definitions.deploy import Resource, deploy_all
from engine.definitions.forms import is_form_resource
from engine.errors import InvalidInput
from engine.models import Form
from engine.rights import Right

MAX_RESOURCES = 100


class DeploymentsView(ApiView):
    rights = {"POST": Right.DEPLOY}
    parser_classes = [MultiPartParser]

    @idempotent
    def post(self, request: Request) -> Response:
        if not request.content_type.startswith("multipart/form-data"):
            raise UnsupportedMediaType(
                request.content_type, "send the files to deploy as multipart/form-data parts named 'resources'"
            )
        files = request.FILES.getlist("resources")
        if not files:
            raise InvalidInput("send the files to deploy as multipart/form-data parts named 'resources'")
        if len(files) > MAX_RESOURCES:
            raise InvalidInput(f"at most {MAX_RESOURCES} resources per deployment")
        unknown = set(request.data) - {"resources", "tenantId"}
        if unknown:
            raise InvalidInput(f"unknown form field(s): {', '.join(sorted(unknown))}; expected resources, tenantId")
        tenant_id = request.data.get("tenantId")
        if tenant_id is not None and (not isinstance(tenant_id, str) or not tenant_id.isprintable()):
            raise InvalidInput("tenantId must be a text field of printable characters")
        tenant = tenant_for(request, tenant_id)
        resources = []
        for f in files:
            if f.size is not None and f.size > settings.BPMN_MAX_BYTES:
                raise InvalidInput(f"resource '{f.name}' is larger than the limit of {settings.BPMN_MAX_BYTES} bytes")
            name = (f.name or "resource.bpmn")[:255]
            if not name.isprintable():
                raise InvalidInput("resource file names must be printable text")
            resources.append(Resource(name=name, content=f.read()))
        deployed = deploy_all(tenant, resources, timezone.now(), principal(request).actor)
        deployment, tid = deployed.deployment, tenant.tenant_id
        entries = [_entry(process=shapes.process_definition_ref(d, tid)) for d in deployed.processes]
        entries += [_entry(decision=shapes.decision_definition_ref(d, tid))
                    for _, rows in deployed.decisions for d in rows]
        entries += [_entry(requirements=shapes.decision_requirements_ref(r, tid)) for r, _ in deployed.decisions]
        entries += [_entry(form=shapes.form_ref(f, tenant.tenant_id)) for f in _forms(tenant, deployment, resources)]
        return Response({"deploymentKey": str(deployment.key), "tenantId": tenant.tenant_id, "deployments": entries})


def _entry(process: dict | None = None, form: dict | None = None, decision: dict | None = None,
           requirements: dict | None = None) -> dict:
    return {
        "processDefinition": process,
        "decisionDefinition": decision,
        "decisionRequirements": requirements,
        "form": form,
        "resource": None,
    }


def _forms(tenant, deployment, resources: list[Resource]) -> list[Form]:  # type: ignore[no-untyped-def]
    """The form versions this deployment stands for: new ones, and the unchanged latest of re-sent files."""
    created = list(Form.objects.filter(deployment=deployment).order_by("form_id"))
    covered = {f.resource_name for f in created}
    for name in [r.name for r in resources if is_form_resource(r.name) and r.name not in covered]:
        latest = Form.objects.filter(tenant=tenant, resource_name=name).order_by("-created_at", "-version").first()
        if latest is not None:
            created.append(latest)
    return created
