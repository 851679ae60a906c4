"""POST /v2/deployments: multipart `resources` (several at once) and an optional `tenantId`."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from engine.actions.errors import InvalidInput
from engine.api import shapes
from engine.api.base import ApiView, idempotent, tenant_for
from engine.definitions.deploy import Resource, deploy

MAX_RESOURCES = 100


class DeploymentsView(ApiView):
    parser_classes = [MultiPartParser]

    @idempotent
    def post(self, request: Request) -> Response:
        if not request.content_type.startswith("multipart/form-data"):
            raise UnsupportedMediaType(request.content_type,
                                       "send the files to deploy as multipart/form-data parts named 'resources'")
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
        deployment, definitions = deploy(tenant, resources, timezone.now())
        return Response(
            {
                "deploymentKey": str(deployment.key),
                "tenantId": tenant.tenant_id,
                "deployments": [
                    {
                        "processDefinition": shapes.process_definition_ref(d, tenant.tenant_id),
                        "decisionDefinition": None,
                        "decisionRequirements": None,
                        "form": None,
                        "resource": None,
                    }
                    for d in definitions
                ],
            }
        )
