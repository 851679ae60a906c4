"""The audit trail (issue 12): every change through an action writes one append-only entry in the
same transaction, naming who, the surface and the request; auditors filter and export it in the
admin, scoped to their tenants, and nobody changes or deletes an entry."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from engine.actions.instances import cancel_instance
from engine.audit import Actor, acting
from engine.models import ProcessDefinition
from engine.runtime.loop import drain
from flowsync.models import AuditEntry, Membership, Role, Tenant
from flowsync.staff import make_tenant_admin
from tests.conftest import deploy_file, make_tenant

pytestmark = pytest.mark.django_db


def started(tenant_id: str) -> tuple[Tenant, APIClient, int]:
    creds = make_tenant(tenant_id)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=creds.header)
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    response = api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json",
                        HTTP_X_REQUEST_ID="req-start-1")
    assert response.status_code == 200, response.content
    return creds.tenant, api, int(response.json()["processInstanceKey"])


def test_api_changes_are_recorded_with_who_via_and_request_id(db):
    tenant, api, key = started("acme")
    assert api.post(f"/v2/process-instances/{key}/cancellation", HTTP_X_REQUEST_ID="req-cancel-9").status_code == 204
    entries = list(AuditEntry.objects.filter(tenant=tenant).order_by("id"))
    assert [e.what for e in entries] == ["deploy", "instance.start", "instance.cancel"]
    start, cancel = entries[1], entries[2]
    assert start.via == cancel.via == "api" and start.who.startswith("api:")
    assert start.request_id == "req-start-1" and cancel.request_id == "req-cancel-9"
    assert cancel.target_type == "process-instance" and cancel.target_key == str(key)
    assert cancel.process_instance_key == key and cancel.before == {"state": "ACTIVE"}
    # A refused change (already being cancelled is fine, a second cancel of a finished one is not) adds nothing.
    from engine.runtime.loop import drain

    drain()
    assert api.post(f"/v2/process-instances/{key}/cancellation").status_code == 409
    assert AuditEntry.objects.filter(tenant=tenant).count() == 3


def test_entry_is_written_in_the_changes_transaction(db):
    tenant, _api, key = started("acme")
    before = AuditEntry.objects.count()

    class Boom(Exception):
        pass

    # The change and its entry commit or roll back together: no entry outlives a failed change.
    with pytest.raises(Boom), transaction.atomic():
        cancel_instance(tenant, key, "user:ann", timezone.now())
        assert AuditEntry.objects.filter(what="instance.cancel").count() == 1
        raise Boom
    assert AuditEntry.objects.count() == before
    from engine.models import Command

    assert not Command.objects.filter(kind=Command.Kind.CANCEL_INSTANCE).exists()


def test_actor_and_acting_name_the_account_and_surface(db):
    tenant, _api, key = started("acme")
    ann = User.objects.create_user("ann")
    with acting("cli", request_id="cli-1"):
        cancel_instance(tenant, key, Actor.of_user(ann), timezone.now())
    entry = AuditEntry.objects.get(what="instance.cancel")
    assert (entry.who, entry.user_id, entry.via, entry.request_id) == ("user:ann", ann.pk, "cli", "cli-1")


def auditor(name: str, tenant: Tenant, role: str = Role.OPERATOR) -> Client:
    user = User.objects.create_user(name, password="pw-123456789")
    make_tenant_admin(user, tenant)
    Membership.objects.filter(user=user, tenant=tenant).update(role=role)
    client = Client()
    client.force_login(user)
    return client


def test_admin_lists_and_exports_only_the_users_tenants_and_never_changes_entries(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    acme, _, acme_key = started("acme")
    globex, _, globex_key = started("globex")
    client = auditor("olga", acme)
    page = client.get("/admin/flowsync/auditentry/?what=instance.start")
    assert page.status_code == 200
    text = page.content.decode()
    assert str(acme_key) in text and str(globex_key) not in text
    assert "globex" not in client.get("/admin/flowsync/auditentry/").content.decode()

    ids = [str(pk) for pk in AuditEntry.objects.values_list("pk", flat=True)]  # globex's ids are ignored
    csv_response = client.post("/admin/flowsync/auditentry/", {"action": "export_csv", "_selected_action": ids})
    assert csv_response["Content-Type"].startswith("text/csv")
    body = csv_response.content.decode()
    assert body.splitlines()[0].startswith("id,created_at,tenant,who")
    assert str(acme_key) in body and str(globex_key) not in body
    lines = client.post("/admin/flowsync/auditentry/", {"action": "export_jsonl", "_selected_action": ids})
    rows = [json.loads(line) for line in lines.content.decode().splitlines()]
    assert {r["tenant"] for r in rows} == {"acme"} and {r["what"] for r in rows} == {"deploy", "instance.start"}

    # Append-only: no add, change or delete, not even for a tenant admin.
    admin_client = auditor("adam", acme, Role.ADMIN)
    entry = AuditEntry.objects.filter(tenant=acme).first()
    assert admin_client.post(f"/admin/flowsync/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    admin_client.post(f"/admin/flowsync/auditentry/{entry.pk}/change/", {"who": "nobody"})
    admin_client.post("/admin/flowsync/auditentry/", {"action": "delete_selected", "_selected_action": [entry.pk],
                                                       "post": "yes"})
    entry.refresh_from_db()
    assert entry.who.startswith("api:")
    assert "delete_selected" not in admin_client.get("/admin/flowsync/auditentry/").content.decode()


def test_message_publish_signal_broadcast_and_inspector_variable_edit_are_recorded(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    tenant, api, key = started("acme")
    published = api.post("/v2/messages/publication", {"name": "paid", "correlationKey": "o-1", "timeToLive": 0,
                                                      "variables": {"iban": "secret"}}, format="json")
    assert published.status_code == 200, published.content
    assert api.post("/v2/signals/broadcast", {"signalName": "stop", "variables": {"why": "x"}},
                    format="json").status_code == 200
    message = AuditEntry.objects.get(what="message.publish")
    assert message.target_key == published.json()["messageKey"] and message.via == "api"
    assert message.after["name"] == "paid" and message.after["variables"] == ["iban"]
    assert "secret" not in json.dumps(message.after)  # names, never values
    signal = AuditEntry.objects.get(what="signal.broadcast")
    assert signal.after == {"name": "stop", "variables": ["why"], "subscriptions": 0}

    # The Inspector's own variable edit goes through the engine action: same command, same entry.
    drain()
    client = auditor("otto", tenant)
    response = client.post(f"/inspector/instances/{key}/variables/", {"name": "total", "value": "42"})
    assert response.status_code == 302, response.content
    entry = AuditEntry.objects.get(what="variables.set")
    otto = User.objects.get(username="otto")
    assert (entry.via, entry.user_id, entry.process_instance_key) == ("inspector", otto.pk, key)
    assert entry.after == {"names": ["total"], "local": True}


def test_audit_per_process_and_per_user_in_the_admin(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    acme, api, key = started("acme")
    other = api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json").json()
    cancel_instance(acme, key, Actor.of_user(User.objects.create_user("ann")), timezone.now())
    globex, _, globex_key = started("globex")
    client = auditor("olga", acme)
    rows = lambda text: text.split('id="result_list"')[1].split("</table>")[0]  # noqa: E731
    # Per process: the acts on its instances (and its definitions, its rights), this tenant's only.
    text = client.get("/admin/flowsync/auditentry/?process=order-process").content.decode()
    listed = rows(text)
    assert "instance.cancel" in listed and str(key) in listed and other["processInstanceKey"] in listed
    assert str(globex_key) not in listed
    assert ">order-process</a>" in text.split('id="changelist-filter"')[1]  # offered as a filter
    assert "0 audit entries" in client.get("/admin/flowsync/auditentry/?process=nothing-here").content.decode()
    definition = ProcessDefinition.objects.get(tenant=acme, bpmn_process_id="order-process")
    page = client.get(f"/admin/engine/processdefinition/{definition.pk}/change/").content.decode()
    assert "/admin/flowsync/auditentry/?process=order-process" in page
    # Per user: each row links to everything that account did.
    assert 'href="?q=user%3Aann"' in listed
    mine = rows(client.get("/admin/flowsync/auditentry/?q=user%3Aann").content.decode())
    assert "instance.cancel" in mine and "instance.start" not in mine


def test_a_request_without_an_id_gets_one_id_in_the_trail_and_the_answer(db):
    tenant, api, key = started("idless")
    response = api.post(f"/v2/process-instances/{key}/cancellation")
    assert response.status_code == 204
    entry = AuditEntry.objects.get(tenant=tenant, what="instance.cancel")
    assert len(entry.request_id) == 32 and entry.request_id == response["X-Request-Id"]
