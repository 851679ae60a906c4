"""Batch operations from the Inspector: over the whole filtered result (not one page), progress page,
cancel; members are refused."""

from __future__ import annotations

import pytest
from django.test import Client

from engine.actions.batches import run_batch
from engine.models import BatchOperation, BatchOperationItem, Incident, ProcessInstance
from engine.runtime.loop import drain
from flowsync.models import Membership
from tests.inspector.conftest import make_user

pytestmark = pytest.mark.django_db


def test_cancel_every_matching_instance_across_pages(op_client, flow, settings):
    settings.ENGINE_INLINE = False  # the run below is what the RQ worker does
    keys = [flow.start(f"ORD-{i}") for i in range(30)]  # more than a page (25)
    other = flow.start("KEEP-1")
    html = op_client.get("/inspector/", {"business_key": "ORD"}).content.decode()
    assert "For all 30 matching (every page)" in html
    response = op_client.post("/inspector/batches/", {"business_key": "ORD", "operation": "cancel"})
    batch = BatchOperation.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/inspector/batches/{batch.key}/"
    page = op_client.get(f"/inspector/batches/{batch.key}/").content.decode()
    assert "0 done · 0 failed · 0 skipped · 30 pending of 30" in page and 'hx-trigger="every' in page
    run_batch(batch.key)
    drain()
    page = op_client.get(f"/inspector/batches/{batch.key}/").content.decode()
    assert "30 done · 0 failed · 0 skipped · 0 pending of 30" in page
    assert set(ProcessInstance.objects.filter(key__in=keys).values_list("state", flat=True)) == {"TERMINATED"}
    assert ProcessInstance.objects.get(key=other).state == "ACTIVE"


def test_resolve_incidents_and_cancel_a_batch(op_client, flow, settings):
    settings.ENGINE_INLINE = False
    keys = [flow.start(f"ORD-{i}") for i in range(3)]
    for key in keys:
        flow.fail_to_incident(key)
    op_client.post("/inspector/batches/", {"incident": "yes", "operation": "resolve"})
    batch = BatchOperation.objects.get()
    run_batch(batch.key)
    drain()
    assert not Incident.objects.filter(state="ACTIVE").exists()
    op_client.post("/inspector/batches/", {"business_key": "ORD", "operation": "cancel"})
    second = BatchOperation.objects.exclude(key=batch.key).get()
    op_client.post(f"/inspector/batches/{second.key}/")
    second.refresh_from_db()
    assert second.state == "CANCELED"
    assert set(BatchOperationItem.objects.filter(batch=second).values_list("state", flat=True)) == {"SKIPPED"}


def test_members_are_refused_and_bad_posts_are_messages(op_client, flow, tenant):
    flow.start("ORD-1")
    member = make_user("max", {tenant: Membership.Role.MEMBER})
    client = Client()
    client.force_login(member)
    assert client.post("/inspector/batches/", {"operation": "cancel"}).status_code == 403
    response = op_client.post("/inspector/batches/", {"operation": "explode"}, follow=True)
    assert "The batch was not started" in response.content.decode()
    response = op_client.post("/inspector/batches/", {"business_key": "NOPE", "operation": "cancel"}, follow=True)
    assert "the search found nothing" in response.content.decode()
    assert not BatchOperation.objects.exists()
