"""Flow triggers in the admin: superusers list them and disable or rotate them through the actions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from engine.models import FlowTrigger

pytestmark = pytest.mark.django_db

FLOW = {"id": "admin_flow", "nodes": [{"id": "a", "kind": "transform", "set": {"x": "1"}}],
        "triggers": [{"id": "hook", "kind": "webhook"}]}


def test_superuser_disables_and_rotates_a_trigger_and_staff_cannot_see_them(flows):
    flows.deploy(FLOW)
    trigger = FlowTrigger.objects.get()
    root = User.objects.create_superuser("root", password="pw-root-123")
    client = Client()
    client.force_login(root)
    url = "/admin/engine/flowtrigger/"
    page = client.get(url)
    assert page.status_code == 200 and b"admin_flow" in page.content
    old_secret = trigger.secret
    client.post(url, {"action": "rotate_secret", "_selected_action": [trigger.pk]})
    client.post(url, {"action": "disable", "_selected_action": [trigger.pk]})
    trigger.refresh_from_db()
    assert trigger.secret != old_secret and trigger.enabled is False
    staff = User.objects.create_user("staff", password="pw-staff-123", is_staff=True)
    other = Client()
    other.force_login(staff)
    assert other.get(url).status_code == 403
    assert other.get("/admin/engine/webhookdelivery/").status_code == 403
