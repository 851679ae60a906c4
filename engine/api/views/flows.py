"""/api/flows: the FlowSync-native API of JSON flows (definitions, triggers, runs, webhooks). Thin views:
the rules live in engine.actions.flows (writes) and engine.queries.flows (reads)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from engine import secrets
from engine.actions import flows as actions
from engine.api.base import ApiView, idempotent, path_key, principal
from engine.api.problems import ResourceExhausted, TooManyRequests
from engine.errors import InvalidInput, NotFound, Overloaded, RateLimited
from engine.flows.document import parse
from engine.flows.schema import SCHEMA
from engine.models import ConnectorSecret, FlowTrigger, ProcessDefinition, WebhookDelivery
from engine.queries import flows as q
from engine.rights import Right
from engine.store.notify import ended_channel, wait_until


class FlowApiView(ApiView):
    """Authenticated like /v2; left out of the /v2 OpenAPI document (flows are described in docs/flows.md
    and by their JSON Schema), so /api/schema/ stays the Camunda-compatible contract."""

    schema = None


def _flow(d: ProcessDefinition) -> dict[str, Any]:
    return {"id": d.bpmn_process_id, "name": d.name, "version": d.version, "key": str(d.key),
            "deployedAt": d.created_at, "active": not d.deactivated}


def _trigger(request: Request, t: FlowTrigger, next_fire: dict[str, Any] | None = None) -> dict[str, Any]:
    shown: dict[str, Any] = {"id": t.trigger_id, "kind": t.kind, "enabled": t.enabled, "config": t.config}
    if t.kind == FlowTrigger.Kind.SCHEDULE:
        shown["nextFireAt"] = (next_fire or {}).get(t.trigger_id)
    if t.kind == FlowTrigger.Kind.WEBHOOK:
        shown.update(url=request.build_absolute_uri(f"/api/flows/hooks/{t.token}"), auth=t.auth,
                     secret=t.secret if t.auth != FlowTrigger.Auth.NONE else None,
                     signatureHeader=actions.SIGNATURE_HEADER, timestampHeader=actions.TIMESTAMP_HEADER,
                     deliveryIdHeader=t.config.get("delivery_id_header", actions.DEFAULT_DELIVERY_HEADER))
    return shown


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return request.data


class FlowSchemaView(APIView):
    """The published JSON Schema of flow documents (public, like any schema)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    schema = None

    def get(self, request: Request) -> Response:
        return Response(SCHEMA, content_type="application/schema+json")


class FlowValidateView(FlowApiView):
    rights = {"POST": Right.READ}

    def post(self, request: Request) -> Response:
        doc = parse("(request)", request.body or b"")
        return Response({"valid": True, "id": doc["id"]})


class FlowsView(FlowApiView):
    rights = {"GET": Right.READ, "POST": Right.DEPLOY}

    def get(self, request: Request) -> Response:
        return Response({"items": [_flow(d) for d in q.flows(principal(request).tenant_ids)]})

    @idempotent
    def post(self, request: Request) -> Response:
        definition = actions.deploy_flow(principal(request).tenant, _body(request), timezone.now())
        return Response(_flow(definition), status=201)


class FlowView(FlowApiView):
    rights = {"GET": Right.READ}

    def get(self, request: Request, flow_id: str) -> Response:
        tenant_ids = principal(request).tenant_ids
        found = q.versions(tenant_ids, flow_id)
        if not found:
            raise NotFound(f"no flow '{flow_id}' is deployed")
        fires = q.next_fire_times(tenant_ids, flow_id)
        return Response({**_flow(found[0]), "document": q.document(found[0]),
                         "triggers": [_trigger(request, t, fires) for t in q.triggers(tenant_ids, flow_id)]})


class FlowVersionsView(FlowApiView):
    rights = {"GET": Right.READ}

    def get(self, request: Request, flow_id: str) -> Response:
        return Response({"items": [_flow(d) for d in q.versions(principal(request).tenant_ids, flow_id)]})


class FlowVersionView(FlowApiView):
    rights = {"GET": Right.READ}

    def get(self, request: Request, flow_id: str, version: int) -> Response:
        found = [d for d in q.versions(principal(request).tenant_ids, flow_id) if d.version == version]
        if not found:
            raise NotFound(f"flow '{flow_id}' has no version {version}")
        return Response({**_flow(found[0]), "document": q.document(found[0])})


class FlowTriggersView(FlowApiView):
    rights = {"GET": Right.READ}

    def get(self, request: Request, flow_id: str) -> Response:
        tenant_ids = principal(request).tenant_ids
        fires = q.next_fire_times(tenant_ids, flow_id)
        return Response({"items": [_trigger(request, t, fires) for t in q.triggers(tenant_ids, flow_id)],
                         "deliveries": [_delivery(d) for d in q.deliveries(tenant_ids, flow_id)]})


class FlowTriggerActionView(FlowApiView):
    """POST .../triggers/<id>/rotate-secret, /enable, /disable."""
    rights = {"POST": Right.DEPLOY}

    def post(self, request: Request, flow_id: str, trigger_id: str, action: str) -> Response:
        tenant, now = principal(request).tenant, timezone.now()
        if action == "rotate-secret":
            trigger = actions.rotate_secret(tenant, flow_id, trigger_id, now)
        elif action in ("enable", "disable"):
            trigger = actions.set_trigger_enabled(tenant, flow_id, trigger_id, action == "enable", now)
        else:
            raise NotFound(f"no trigger action '{action}'; use rotate-secret, enable or disable")
        return Response(_trigger(request, trigger))


def _delivery(d: WebhookDelivery) -> dict[str, Any]:
    return {"id": str(d.pk), "trigger": d.trigger.trigger_id, "receivedAt": d.received_at,
            "deliveryId": d.delivery_id or None, "outcome": d.outcome, "detail": d.detail, "bodyBytes": d.body_bytes,
            "kept": d.body is not None, "headers": d.headers,
            "executionId": str(d.process_instance_key) if d.process_instance_key else None}


def _secret(s: ConnectorSecret) -> dict[str, Any]:
    return {"name": s.name, "createdAt": s.created_at, "updatedAt": s.updated_at, "updatedBy": s.updated_by}


class SecretsView(FlowApiView):
    """GET /api/flows/secrets: the tenant's connector secret names (values are write-only)."""
    rights = {"GET": Right.READ}

    def get(self, request: Request) -> Response:
        rows = ConnectorSecret.objects.filter(tenant=principal(request).tenant).order_by("name")
        return Response({"items": [_secret(s) for s in rows]})


class SecretView(FlowApiView):
    """PUT /api/flows/secrets/<name> {"value": "..."}: create (201) or replace (200); DELETE: remove (204).
    The answer never holds the value."""
    rights = {"PUT": secrets.MANAGE_RIGHT, "DELETE": secrets.MANAGE_RIGHT}

    def put(self, request: Request, name: str) -> Response:
        value = _body(request).get("value")
        if not isinstance(value, str) or not value:
            raise InvalidInput("`value` must be a non-empty string (the secret's value; it is never shown back)")
        who = principal(request)
        try:
            created = secrets.set_secret(who.tenant, name, value, who.name)
        except ValueError as exc:
            raise InvalidInput(f"secret name {name!r}: {exc}") from None
        row = ConnectorSecret.objects.get(tenant=who.tenant, name=name)
        return Response(_secret(row), status=201 if created else 200)

    def delete(self, request: Request, name: str) -> Response:
        who = principal(request)
        if not secrets.delete_secret(who.tenant, name, who.name):
            raise NotFound(f"no connector secret named {name!r} in this tenant")
        return Response(status=204)


class DeliveryReplayView(FlowApiView):
    """POST /api/flows/deliveries/<id>/replay: run a recorded delivery again (a new run, audited)."""
    rights = {"POST": Right.OPERATE}
    submits_commands = True

    def post(self, request: Request, delivery_id: str) -> Response:
        who = principal(request)
        replayed = actions.replay_delivery(who.tenant_ids, path_key(delivery_id, "delivery id"), who.name,
                                           timezone.now())
        return Response({"delivery": _delivery(replayed), "executionId": str(replayed.process_instance_key)},
                        status=201)


class FlowActivationView(FlowApiView):
    """POST /api/flows/<id>/deactivate | /activate: the whole flow (all versions, its triggers)."""
    rights = {"POST": Right.DEPLOY}

    def post(self, request: Request, flow_id: str, action: str) -> Response:
        if action not in ("activate", "deactivate"):
            raise NotFound(f"no flow action '{action}'; use activate or deactivate")
        who = principal(request)
        changed = actions.set_flow_active([who.tenant.pk], flow_id, action == "activate", who.name, timezone.now())
        return Response({"id": flow_id, "active": action == "activate", "versionsChanged": changed})


class FlowRunsView(FlowApiView):
    rights = {"GET": Right.READ, "POST": Right.START}
    submits_commands = True

    def get(self, request: Request, flow_id: str) -> Response:
        tenant_ids = principal(request).tenant_ids
        return Response({"items": [q.execution(tenant_ids, pi.key) for pi in q.runs(tenant_ids, flow_id)]})

    @idempotent
    def post(self, request: Request, flow_id: str) -> Response:
        body = _body(request)
        unknown = set(body) - {"input", "version"}
        if unknown:
            raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}; expected input, version")
        version = body.get("version")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
            raise InvalidInput("version must be a positive integer")
        who = principal(request)
        instance = actions.start_run(who.tenant, flow_id, body.get("input", {}), who.name, timezone.now(), version)
        return Response({"id": str(instance.key), "flow": flow_id, "status": "running"}, status=201)


class ExecutionView(FlowApiView):
    rights = {"GET": Right.READ}

    def get(self, request: Request, key: str) -> Response:
        return Response(q.execution(principal(request).tenant_ids, path_key(key, "execution id")))


class ExecutionStepsView(FlowApiView):
    rights = {"GET": Right.READ}

    def get(self, request: Request, key: str) -> Response:
        return Response({"items": q.steps(principal(request).tenant_ids, path_key(key, "execution id"))})


class WebhookView(APIView):
    """POST /api/flows/hooks/<token>: authenticated by the trigger's own secret, not by an API key."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    schema = None
    parser_classes: list = []  # the view reads the raw body: the signature is over its exact bytes

    def post(self, request: Request, token: str) -> Response:
        delivery = actions.Delivery(
            headers={k.lower(): v for k, v in request.headers.items()},
            body=request.body,
            content_type=request.content_type or "",
            method=request.method or "POST",
            query={k: v for k, v in request.query_params.items()},
        )
        try:
            accepted = actions.receive_webhook(token, delivery, timezone.now())
        except RateLimited as exc:
            raise TooManyRequests(exc.detail, retry_after=exc.retry_after) from None
        except Overloaded as exc:
            raise ResourceExhausted(exc.detail, retry_after=exc.retry_after) from None
        if accepted.filtered:
            return Response({"executionId": None, "filtered": True}, status=200)
        key = accepted.process_instance_key
        if accepted.respond_ms and key is not None:
            # Respond-to-webhook: wait (woken by the engine when the run ends) for the run's output.
            if wait_until(lambda: q.run_ended(key), [ended_channel(key)], accepted.respond_ms / 1000):
                execution = q.execution([accepted.tenant_id], key)
                return Response({"executionId": str(key), "status": execution["status"],
                                 "output": execution["output"]}, status=200)
        return Response({"executionId": str(key), "duplicate": accepted.duplicate}, status=accepted.status)


class DeadLettersView(FlowApiView):
    """GET: runs that failed after their retries, by flow and error code (`?flow=`, `?code=`)."""
    rights = {"GET": Right.READ}

    def get(self, request: Request) -> Response:
        flow_id, code = request.query_params.get("flow"), request.query_params.get("code")
        return Response({"items": q.dead_letters(principal(request).tenant_ids, flow_id, code)})


class DeadLettersReplayView(FlowApiView):
    """POST {"flow"?, "code"?}: replay every dead letter matching the filter."""
    rights = {"POST": Right.OPERATE}

    submits_commands = True

    def post(self, request: Request) -> Response:
        body = _body(request)
        unknown = set(body) - {"flow", "code"}
        if unknown:
            raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}; expected flow, code")
        who, now = principal(request), timezone.now()
        letters = q.dead_letters(who.tenant_ids, body.get("flow"), body.get("code"))
        keys = sorted({int(d["executionId"]) for d in letters})
        for key in keys:
            actions.replay_run(who.tenant, key, None, who.name, now)
        return Response({"replayed": [str(k) for k in keys]})


class ExecutionActionView(FlowApiView):
    """POST .../executions/<id>/replay {"input"?: variables to change} or .../discard."""
    rights = {"POST": Right.OPERATE}

    submits_commands = True

    def post(self, request: Request, key: str, action: str) -> Response:
        who, run_key, now = principal(request), path_key(key, "execution id"), timezone.now()
        if action == "replay":
            body = _body(request) if request.body else {}
            actions.replay_run(who.tenant, run_key, body.get("input"), who.name, now)
        elif action == "discard":
            actions.discard_run(who.tenant, run_key, who.name, now)
        else:
            raise NotFound(f"no execution action '{action}'; use replay or discard")
        return Response(status=202)


class FlowDiffView(FlowApiView):
    """GET /api/flows/<id>/diff?from=1&to=2 (default: the previous version against the latest)."""
    rights = {"GET": Right.READ}

    def get(self, request: Request, flow_id: str) -> Response:
        found = {d.version: d for d in q.versions(principal(request).tenant_ids, flow_id)}
        if not found:
            raise NotFound(f"no flow '{flow_id}' is deployed")
        latest = max(found)
        try:
            to = int(request.query_params.get("to", latest))
            since = int(request.query_params.get("from", to - 1))
        except ValueError:
            raise InvalidInput("from and to must be version numbers") from None
        for version in (since, to):
            if version not in found:
                raise NotFound(f"flow '{flow_id}' has no version {version}")
        return Response({"from": since, "to": to,
                         **q.diff(q.document(found[since]), q.document(found[to]))})
