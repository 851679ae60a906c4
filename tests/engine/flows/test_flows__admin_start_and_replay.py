"""The admin's flow pages: a run started from the form built from `inputs` (errors on the fields, or from
the run's input check when the schema has no fields to draw), whole flows deactivated and activated by
action (tenant-scoped, with the role's rights), webhook deliveries replayed by action."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from engine.actions.flows import Delivery, receive_webhook
from engine.models import Flow, FlowTrigger, ProcessDefinition, ProcessInstance, WebhookDelivery
from flowsync.models import AuditEntry, Membership
from flowsync.staff import make_tenant_admin, tenant_admins_group
from tests.conftest import make_tenant

pytestmark = pytest.mark.django_db

FLOW = {"id": "refund", "inputs": {"type": "object", "required": ["amount"], "properties": {
    "amount": {"type": "integer", "title": "Amount", "minimum": 1}, "note": {"type": "string"}}},
        "nodes": [{"id": "a", "kind": "transform", "set": {"x": "amount"}}],
        "triggers": [{"id": "hook", "kind": "webhook", "auth": "none"}]}


@pytest.fixture
def root():
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
    return client


def test_start_form_shows_field_errors_then_starts_the_run(flows, root):
    definition = flows.deploy(FLOW)
    url = f"/admin/engine/flow/{definition.key}/start/"
    page = root.get(url)
    assert page.status_code == 200 and b'name="amount"' in page.content and b'name="note"' in page.content
    refused = root.post(url, {"amount": "0", "note": "x"})
    assert refused.status_code == 422 and b"Must be at least 1" in refused.content
    assert not ProcessInstance.objects.exists()
    started = root.post(url, {"amount": "12", "note": "late"})
    assert started.status_code == 302
    instance = ProcessInstance.objects.get()
    flows.settle()
    assert flows.variables(instance.key) == {"amount": 12, "note": "late", "x": 12}
    assert b"Start a run" in root.get(f"/admin/engine/flow/{definition.key}/change/").content


def test_a_schema_without_fields_gets_the_json_form_and_the_input_check_errors(flows, root):
    definition = flows.deploy({**FLOW, "id": "loose", "inputs": {"type": "object", "required": ["order"]},
                               "triggers": []})
    url = f"/admin/engine/flow/{definition.key}/start/"
    assert b'name="variables"' in root.get(url).content
    refused = root.post(url, {"variables": json.dumps({"other": 1})})
    assert refused.status_code == 422 and b"&#x27;order&#x27; is a required property" in refused.content
    assert root.post(url, {"variables": json.dumps({"order": "A"})}).status_code == 302


def test_deactivate_and_activate_whole_flows_by_action_with_the_roles_rights(flows, root):
    flows.deploy(FLOW)
    flows.deploy({**FLOW, "nodes": [{"id": "a", "kind": "transform", "set": {"x": "2"}}]})
    first = Flow.objects.order_by("version").first()
    root.post("/admin/engine/flow/", {"action": "deactivate_flows", "_selected_action": [first.pk]})
    assert set(ProcessDefinition.objects.values_list("deactivated", flat=True)) == {True}
    assert not FlowTrigger.objects.get().enabled
    assert AuditEntry.objects.filter(what="flow.deactivate", target_key="refund").count() == 1
    operator = User.objects.create_user("op", password="pw-op-12345", is_staff=True)
    Membership.objects.create(tenant=flows.tenant, user=operator, role=Membership.Role.OPERATOR)
    operator.groups.add(tenant_admins_group())  # the admin pages' view permissions; the role stays operator
    other = Client()
    other.force_login(operator)
    assert other.get("/admin/engine/flow/").status_code == 200  # operators see flows (READ)
    other.post("/admin/engine/flow/", {"action": "activate_flows", "_selected_action": [first.pk]})
    assert set(ProcessDefinition.objects.values_list("deactivated", flat=True)) == {True}  # no DEPLOY right
    root.post("/admin/engine/flow/", {"action": "activate_flows", "_selected_action": [first.pk]})
    assert set(ProcessDefinition.objects.values_list("deactivated", flat=True)) == {False}
    assert FlowTrigger.objects.get().enabled


def test_another_tenants_staff_see_no_flows(flows):
    flows.deploy(FLOW)
    stranger = User.objects.create_user("stranger", password="pw-str-12345", is_staff=True)
    make_tenant_admin(stranger, make_tenant("elsewhere").tenant)
    client = Client()
    client.force_login(stranger)
    page = client.get("/admin/engine/flow/")
    assert page.status_code == 200 and b"refund" not in page.content


def test_superuser_replays_a_delivery_from_the_admin(flows, root):
    flows.deploy(FLOW)
    token = FlowTrigger.objects.get().token
    receive_webhook(token, Delivery(headers={"authorization": "Bearer x", "x-flowsync-delivery": "d-1"},
                                    body=b'{"amount": 5}', content_type="application/json"), timezone.now())
    original = WebhookDelivery.objects.get()
    assert original.headers["authorization"] == "***"
    page = root.get(f"/admin/engine/webhookdelivery/{original.pk}/change/")
    assert b"amount" in page.content
    root.post("/admin/engine/webhookdelivery/", {"action": "replay", "_selected_action": [original.pk]})
    replayed = WebhookDelivery.objects.get(outcome="replayed")
    assert replayed.process_instance_key != original.process_instance_key
    assert ProcessInstance.objects.count() == 2
