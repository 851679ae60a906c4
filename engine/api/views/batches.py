"""Batch operations (Camunda 8 shapes): cancel the instances a filter finds, resolve their incidents,
read a batch's progress, cancel a batch. The work runs in the background (engine/actions/batches.py)."""

from __future__ import annotations

from typing import Any

from django.db.models import DateTimeField, Value
from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from engine.actions import batches as batch_actions
from engine.api import shapes
from engine.api.base import ApiView, path_key, principal, tenant_for
from engine.api.search import filter_q
from engine.api.views.instances import SPEC
from engine.errors import InvalidInput
from engine.models import BatchOperation, Incident
from engine.queries import batches as batch_queries
from engine.queries import instances as instance_queries
from engine.rights import Right

RUNNING_STATES = {"ACTIVE": "ACTIVE", "COMPLETED": "COMPLETED", "CANCELED": "CANCELED"}


def _filtered_keys(request: Request) -> tuple[Any, list[int]]:
    body = request.data if request.data is not None else {}
    if not isinstance(body, dict) or set(body) - {"filter", "operationReference"} or "filter" not in body:
        raise InvalidInput("the body is {\"filter\": {...process instance filter...}}")
    tenant = tenant_for(request, None)
    qs = instance_queries.instances([tenant.pk]).annotate(_suspended=Value(None, output_field=DateTimeField()))
    qs = qs.filter(filter_q(SPEC, body.get("filter") or {}))
    return tenant, list(qs.order_by().values_list("key", flat=True))


def _created(batch: BatchOperation) -> Response:
    return Response({"batchOperationKey": str(batch.key), "batchOperationType": batch.kind})


class InstanceCancellationBatchView(ApiView):
    rights = {"POST": Right.OPERATE}

    def post(self, request: Request) -> Response:
        tenant, keys = _filtered_keys(request)
        return _created(batch_actions.create_batch(tenant, BatchOperation.Kind.CANCEL_PROCESS_INSTANCE, keys,
                                                   principal(request).actor, timezone.now(), "API filter"))


class IncidentResolutionBatchView(ApiView):
    rights = {"POST": Right.OPERATE}

    def post(self, request: Request) -> Response:
        tenant, keys = _filtered_keys(request)
        incidents = list(Incident.objects.filter(tenant=tenant, process_instance_key__in=keys,
                                                 state=Incident.State.ACTIVE).values_list("key", flat=True))
        return _created(batch_actions.create_batch(tenant, BatchOperation.Kind.RESOLVE_INCIDENT, incidents,
                                                   principal(request).actor, timezone.now(), "API filter"))


def batch_shape(batch: BatchOperation) -> dict[str, Any]:
    p = batch_queries.progress(batch)
    return {
        "batchOperationKey": str(batch.key),
        "state": RUNNING_STATES[batch.state],
        "batchOperationType": batch.kind,
        "startDate": shapes.date(batch.created_at),
        "endDate": shapes.date(batch.ended_at),
        "actorType": "USER",
        "actorId": batch.actor,
        "operationsTotalCount": p["total"],
        "operationsFailedCount": p["FAILED"],
        "operationsCompletedCount": p["DONE"],
        "errors": [],
    }


class BatchOperationView(ApiView):
    rights = {"GET": Right.READ}

    def get(self, request: Request, key: str) -> Response:
        batch = batch_queries.get_batch(principal(request).tenant_ids, path_key(key, "batchOperationKey"))
        return Response(batch_shape(batch))


class BatchOperationCancellationView(ApiView):
    rights = {"POST": Right.OPERATE}

    def post(self, request: Request, key: str) -> Response:
        batch_actions.cancel_batch(principal(request).tenant_ids, path_key(key, "batchOperationKey"), timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)
