"""Messages (publish with TTL buffer, correlate synchronously) and signals (broadcast)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from engine.actions.messages import correlate_message, publish_message
from engine.actions.signals import broadcast_signal
from engine.api import requests
from engine.api.base import ApiView, idempotent, principal, tenant_for, valid
from engine.rights import Right


class MessagePublicationView(ApiView):
    rights = {"POST": Right.START}
    submits_commands = True

    @idempotent
    def post(self, request: Request) -> Response:
        data = valid(requests.PublishMessage, request.data)
        tenant = tenant_for(request, data.get("tenantId"))
        message_key = publish_message(
            tenant,
            data["name"],
            data.get("correlationKey") or "",
            data["timeToLive"],
            data.get("messageId") or None,
            data.get("variables") or {},
            principal(request).actor,
            timezone.now(),
        )
        return Response({"tenantId": tenant.tenant_id, "messageKey": str(message_key)})


class MessageCorrelationView(ApiView):
    rights = {"POST": Right.START}
    submits_commands = True

    @idempotent
    def post(self, request: Request) -> Response:
        data = valid(requests.CorrelateMessage, request.data)
        tenant = tenant_for(request, data.get("tenantId"))
        message_key, instance_key = correlate_message(
            tenant,
            data["name"],
            data.get("correlationKey") or "",
            data.get("variables") or {},
            principal(request).actor,
            timezone.now(),
        )
        return Response(
            {"tenantId": tenant.tenant_id, "messageKey": str(message_key), "processInstanceKey": str(instance_key)}
        )


class SignalBroadcastView(ApiView):
    rights = {"POST": Right.START}
    submits_commands = True

    @idempotent
    def post(self, request: Request) -> Response:
        data = valid(requests.BroadcastSignal, request.data)
        tenant = tenant_for(request, data.get("tenantId"))
        signal_key = broadcast_signal(
            tenant, data["signalName"], data.get("variables") or {}, principal(request).actor, timezone.now()
        )
        return Response({"tenantId": tenant.tenant_id, "signalKey": str(signal_key)})
