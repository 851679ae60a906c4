"""Thin views: check the caller, validate the shape, call one action, shape the answer."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from engine.actions import instances as instance_actions
from engine.actions import jobs as job_actions
from engine.actions.errors import InvalidInput
from engine.api import requests, shapes
from engine.api.auth import ApiPrincipal
from engine.definitions.deploy import Resource, deploy
from flowsync.models import Tenant


def _principal(request: Request) -> ApiPrincipal:
    return request.user  # type: ignore[return-value]


def _tenant(request: Request, tenant_id: str | None) -> Tenant:
    principal = _principal(request)
    if not tenant_id or tenant_id == principal.tenant.tenant_id:
        return principal.tenant
    tenant = Tenant.objects.filter(tenant_id=tenant_id, pk__in=principal.tenant_ids).first()
    if tenant is None:
        raise PermissionDenied(f"tenant '{tenant_id}' is not assigned to this client")
    return tenant


def _valid(serializer_class: type, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError("the request body must be a JSON object")
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _key(value: str) -> int:
    if not value.lstrip("-").isdigit() or len(value) > 25:
        raise InvalidInput(f"'{value}' is not a key: keys are strings of digits")
    return int(value)


class DeploymentsView(APIView):
    def post(self, request: Request) -> Response:
        files = request.FILES.getlist("resources")
        if not files:
            raise InvalidInput("send the files to deploy as multipart/form-data parts named 'resources'")
        tenant = _tenant(request, request.data.get("tenantId"))
        resources = [Resource(name=f.name or "resource.bpmn", content=f.read()) for f in files]
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


class ProcessInstancesView(APIView):
    def post(self, request: Request) -> Response:
        data = _valid(requests.CreateProcessInstance, request.data)
        tenant = _tenant(request, data.get("tenantId"))
        definition = instance_actions.find_definition(
            tenant,
            process_id=data.get("processDefinitionId"),
            version=data.get("processDefinitionVersion"),
            key=data.get("processDefinitionKey"),
        )
        instance = instance_actions.start_instance(
            tenant,
            definition,
            data.get("variables"),
            _principal(request).actor,
            timezone.now(),
            business_key=data.get("businessId") or "",
        )
        return Response(
            {
                "processDefinitionId": definition.bpmn_process_id,
                "processDefinitionVersion": definition.version,
                "tenantId": tenant.tenant_id,
                "variables": {},
                "processDefinitionKey": str(definition.key),
                "processInstanceKey": str(instance.key),
                "tags": data.get("tags") or [],
                "businessId": instance.business_key or None,
            }
        )


class ProcessInstanceView(APIView):
    def get(self, request: Request, key: str) -> Response:
        instance = instance_actions.get_instance(_principal(request).tenant, _key(key))
        return Response(shapes.process_instance(instance, instance.tenant.tenant_id))


class ProcessInstanceCancellationView(APIView):
    def post(self, request: Request, key: str) -> Response:
        instance_actions.cancel_instance(
            _principal(request).tenant, _key(key), _principal(request).actor, timezone.now()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobActivationView(APIView):
    def post(self, request: Request) -> Response:
        data = _valid(requests.ActivateJobs, request.data)
        principal = _principal(request)
        tenant_ids = principal.tenant_ids
        if data.get("tenantIds"):
            tenant_ids = list(
                Tenant.objects.filter(tenant_id__in=data["tenantIds"], pk__in=principal.tenant_ids).values_list(
                    "pk", flat=True
                )
            )
        jobs = job_actions.activate_jobs(
            tenant_ids, data["type"], data["worker"], data["timeout"], data["maxJobsToActivate"], timezone.now()
        )
        variables = job_actions.variables_for_jobs(jobs, data.get("fetchVariable"))
        names = dict(Tenant.objects.filter(pk__in={j.tenant_id for j in jobs}).values_list("pk", "tenant_id"))
        return Response({"jobs": [shapes.activated_job(j, variables[j.key], names[j.tenant_id]) for j in jobs]})


class JobCompletionView(APIView):
    def post(self, request: Request, key: str) -> Response:
        data = _valid(requests.CompleteJob, request.data)
        principal = _principal(request)
        job_actions.complete_job(
            principal.tenant_ids, _key(key), data.get("variables"), principal.actor, timezone.now()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class TopologyView(APIView):
    def get(self, request: Request) -> Response:
        from django.conf import settings

        version = settings.SPECTACULAR_SETTINGS["VERSION"]
        return Response(
            {
                "brokers": [
                    {
                        "nodeId": 0,
                        "host": request.get_host().split(":")[0],
                        "port": int(request.get_port() or 80),
                        "partitions": [{"partitionId": 1, "role": "leader", "health": "healthy"}],
                        "version": version,
                    }
                ],
                "clusterId": None,
                "clusterSize": 1,
                "partitionsCount": 1,
                "replicationFactor": 1,
                "gatewayVersion": version,
                "lastCompletedChangeId": "-1",
            }
        )


class StatusView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request: Request) -> Response:
        return Response(status=status.HTTP_204_NO_CONTENT)
