"""Batch operations (Camunda 8 shapes): created over a process-instance filter by the
`/v2/process-instances/{cancellation,incident-resolution,migration,modification}` endpoints, then
searched, read, cancelled, suspended and resumed under `/v2/batch-operations`. The batches are
`engine/actions/batches.py`'s — the same the admin, the CLI and the Inspector start.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from engine.actions import batches
from engine.api import requests
from engine.api.base import ApiView, path_key, principal, valid
from engine.api.search import Field, Spec, filter_q
from engine.api.shapes import date
from engine.api.views.common import SearchView
from engine.api.views.instances import SPEC as INSTANCE_SPEC
from engine.errors import InvalidInput, NotFound
from engine.models import BatchOperation, Incident, ProcessInstance
from engine.queries import instances as instance_queries
from engine.rights import Right
from flowsync.models import Tenant

Kind, State = BatchOperation.Kind, BatchOperation.State
TYPES = {
    Kind.CANCEL_INSTANCES: "CANCEL_PROCESS_INSTANCE",
    Kind.RESOLVE_INCIDENTS: "RESOLVE_INCIDENT",
    Kind.RETRY_JOBS: "UPDATE_JOB",
    Kind.MIGRATE_INSTANCES: "MIGRATE_PROCESS_INSTANCE",
    Kind.MODIFY_INSTANCES: "MODIFY_PROCESS_INSTANCE",
    Kind.SET_VARIABLES: "UPDATE_VARIABLE",
}
STATES = {State.QUEUED: "CREATED", State.RUNNING: "ACTIVE", State.SUSPENDED: "SUSPENDED",
          State.CANCELED: "CANCELED"}


def state_of(batch: BatchOperation) -> str:
    if batch.state != State.DONE:
        return STATES[batch.state]
    if not batch.failed:
        return "COMPLETED"
    return "PARTIALLY_COMPLETED" if batch.done or batch.skipped else "FAILED"


def batch_shape(batch: BatchOperation) -> dict[str, Any]:
    """BatchOperationResponse. Skipped items (nothing to do) count as completed."""
    return {
        "batchOperationKey": str(batch.pk),
        "state": state_of(batch),
        "batchOperationType": TYPES[batch.kind],
        "startDate": date(batch.created_at),
        "endDate": date(batch.finished_at),
        "actorType": "USER" if batch.user_id else "CLIENT",
        "actorId": batch.actor,
        "operationsTotalCount": len(batch.keys),
        "operationsFailedCount": len(batch.failed),
        "operationsCompletedCount": len(batch.done) + len(batch.skipped),
        "errors": [],
    }


def created(batch: BatchOperation) -> Response:
    return Response({"batchOperationKey": str(batch.pk), "batchOperationType": TYPES[batch.kind]})


# -- creation over a process-instance filter ----------------------------------------------------------
def _matching(request: Request, filt: dict[str, Any]) -> tuple[Tenant, QuerySet[ProcessInstance]]:
    """ACTIVE instances of the caller's tenants matching Camunda's filter (a state in it is overridden, as
    Camunda does: only active instances can be changed), all of one tenant."""
    who = principal(request)
    filt = {name: value for name, value in filt.items() if name != "state"}
    qs = instance_queries.instances(who.tenant_ids).filter(filter_q(INSTANCE_SPEC, filt))
    qs = qs.filter(state=ProcessInstance.State.ACTIVE).order_by("key")
    tenants = list(qs.order_by().values_list("tenant_id", flat=True).distinct()[:2])
    if len(tenants) > 1:
        raise InvalidInput("the filter matches instances of several tenants; add filter.tenantId")
    tenant = Tenant.objects.get(pk=tenants[0]) if tenants else who.tenant
    return tenant, qs


def _start(request: Request, kind: str, keys: list[int], tenant: Tenant, params: dict[str, Any],
           filt: dict[str, Any]) -> Response:
    who = principal(request)
    batch = batches.start_batch(tenant, who.roles.get(tenant.pk), kind, keys, who.actor, params,
                                selection={"filter": filt})
    return created(batch)


class InstanceCancellationBatchView(ApiView):
    rights = {"POST": Right.OPERATE}

    def post(self, request: Request) -> Response:
        data = valid(requests.BatchFilter, request.data)
        tenant, qs = _matching(request, data["filter"])
        keys = list(qs.values_list("key", flat=True)[: batches.MAX_KEYS + 1])
        return _start(request, Kind.CANCEL_INSTANCES, keys, tenant, {}, data["filter"])


class IncidentResolutionBatchView(ApiView):
    rights = {"POST": Right.OPERATE}

    def post(self, request: Request) -> Response:
        data = valid(requests.BatchFilter, request.data)
        tenant, qs = _matching(request, data["filter"])
        incidents = Incident.objects.filter(tenant=tenant, state=Incident.State.ACTIVE,
                                            process_instance_key__in=qs.values("key")).order_by("key")
        keys = list(incidents.values_list("key", flat=True)[: batches.MAX_KEYS + 1])
        return _start(request, Kind.RESOLVE_INCIDENTS, keys, tenant, {}, data["filter"])


class MigrationBatchView(ApiView):
    rights = {"POST": Right.OPERATE}

    def post(self, request: Request) -> Response:
        data = valid(requests.BatchMigration, request.data)
        tenant, qs = _matching(request, data["filter"])
        plan = data["migrationPlan"]
        params = {"targetProcessDefinitionKey": str(plan["targetProcessDefinitionKey"]),
                  "mappingInstructions": [dict(m) for m in plan["mappingInstructions"]]}
        keys = list(qs.values_list("key", flat=True)[: batches.MAX_KEYS + 1])
        return _start(request, Kind.MIGRATE_INSTANCES, keys, tenant, params, data["filter"])


class ModificationBatchView(ApiView):
    rights = {"POST": Right.OPERATE}

    def post(self, request: Request) -> Response:
        data = valid(requests.BatchModification, request.data)
        tenant, qs = _matching(request, data["filter"])
        keys = list(qs.values_list("key", flat=True)[: batches.MAX_KEYS + 1])
        return _start(request, Kind.MODIFY_INSTANCES, keys, tenant,
                      {"moveInstructions": [dict(m) for m in data["moveInstructions"]]}, data["filter"])


# -- reading and steering ------------------------------------------------------------------------------
def _batches(request: Request) -> QuerySet[BatchOperation]:
    return BatchOperation.objects.filter(tenant_id__in=principal(request).tenant_ids)


def _get(request: Request, key: str) -> BatchOperation:
    batch = _batches(request).filter(pk=path_key(key, "batchOperationKey")).first()
    if batch is None:
        raise NotFound(f"no batch operation with key {key}")
    return batch


TYPE_ENUM = {api: (kind,) for kind, api in TYPES.items()}
STATE_ENUM = {"CREATED": (State.QUEUED,), "ACTIVE": (State.RUNNING,), "SUSPENDED": (State.SUSPENDED,),
              "CANCELED": (State.CANCELED,), "COMPLETED": (State.DONE,), "PARTIALLY_COMPLETED": (State.DONE,),
              "FAILED": (State.DONE,)}
SEARCH_SPEC = Spec(
    fields={
        "batchOperationKey": Field("id", "key"),
        "operationType": Field("kind", "enum", enum=TYPE_ENUM),
        "state": Field("state", "enum", enum=STATE_ENUM),
        "actorId": Field("actor"),
    },
    sort={
        "batchOperationKey": Field("id", "key"),
        "operationType": Field("kind"),
        "state": Field("state"),
        "startDate": Field("created_at", "date"),
        "endDate": Field("finished_at", "date"),
    },
    unsupported=frozenset({"actorType"}),
    key_column="id",
)


class BatchOperationSearchView(SearchView):
    spec = SEARCH_SPEC

    def queryset(self, request: Request) -> QuerySet:
        return _batches(request)

    def shape_page(self, request: Request, rows: list[Any]) -> list[dict[str, Any]]:
        return [batch_shape(b) for b in rows]


class BatchOperationView(ApiView):
    rights = {"GET": Right.READ}

    def get(self, request: Request, key: str) -> Response:
        return Response(batch_shape(_get(request, key)))


class _Steer(ApiView):
    rights = {"POST": Right.OPERATE}
    act = staticmethod(batches.cancel_batch)

    def post(self, request: Request, key: str) -> Response:
        batch = _get(request, key)
        who = principal(request)
        type(self).act(batch, who.roles.get(batch.tenant_id), who.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BatchOperationCancellationView(_Steer):
    act = staticmethod(batches.cancel_batch)


class BatchOperationSuspensionView(_Steer):
    act = staticmethod(batches.suspend_batch)


class BatchOperationResumptionView(_Steer):
    act = staticmethod(batches.resume_batch)


ITEM_STATES = ("COMPLETED", "SKIPPED", "FAILED", "ACTIVE")


def items_of(batch: BatchOperation) -> list[dict[str, Any]]:
    """BatchOperationItemResponse per key: COMPLETED (done), SKIPPED (nothing to do), FAILED (with why),
    ACTIVE (not handled yet)."""
    out = []
    for key in batch.keys:
        if key in batch.failed:
            item_state, error = "FAILED", batch.failed[key]
        elif key in batch.skipped:
            item_state, error = "SKIPPED", batch.skipped[key]
        elif key in batch.done:
            item_state, error = "COMPLETED", None
        else:
            item_state, error = ("CANCELED" if batch.state == State.CANCELED else "ACTIVE"), None
        instance = None if batch.kind in (Kind.RESOLVE_INCIDENTS, Kind.RETRY_JOBS) else key
        out.append({"operationType": TYPES[batch.kind], "batchOperationKey": str(batch.pk), "itemKey": key,
                    "processInstanceKey": instance, "rootProcessInstanceKey": instance, "state": item_state,
                    "processedDate": None, "errorMessage": error})
    return out


class BatchOperationItemSearchView(ApiView):
    """POST /v2/batch-operation-items/search: filter by batchOperationKey (required here), state, itemKey;
    paged with {from, limit}."""

    rights = {"POST": Right.READ}

    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        filt = body.get("filter") or {}
        page = body.get("page") or {}
        if not isinstance(page, dict):
            raise InvalidInput("page: expected an object {from, limit}")
        if not isinstance(filt, dict) or "batchOperationKey" not in filt:
            raise InvalidInput("filter.batchOperationKey is required: items are read one batch at a time")
        batch = _get(request, str(filt["batchOperationKey"]))
        items = items_of(batch)
        for name in ("state", "itemKey", "processInstanceKey"):
            if name in filt:
                items = [i for i in items if i[name] == str(filt[name])]
        start, limit = page.get("from", 0), page.get("limit", 100)
        if any(isinstance(v, bool) or not isinstance(v, int) for v in (start, limit)) or start < 0 \
                or not 0 <= limit <= 10_000:
            raise InvalidInput("page: from and limit must be whole numbers (limit up to 10000)")
        return Response({"items": items[start:start + limit],
                         "page": {"totalItems": len(items), "hasMoreTotalItems": False, "startCursor": None,
                                  "endCursor": None}})
