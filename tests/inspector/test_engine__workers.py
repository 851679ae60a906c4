"""The Inspector's Engine page: workers with a lost one marked, the backlog, this tenant's open incidents."""

from __future__ import annotations

import datetime

import pytest
from django.db.models.functions import Now
from django.test import Client

from engine.models import WorkerHeartbeat
from engine.store import heartbeats
from flowsync.models import Membership
from tests.inspector.conftest import make_user

pytestmark = pytest.mark.django_db


def test_operators_see_alive_and_lost_workers_and_their_tenants_incidents(op_client, flow, other_flow, settings):
    settings.FLOWSYNC_HEARTBEAT_LOST_SECONDS = 30
    heartbeats.register("engine-alive", "host-a", 101, "0.1.0")
    heartbeats.register("engine-gone", "host-b", 202, "0.1.0")
    # The second worker's last heartbeat is a minute old: it is lost.
    WorkerHeartbeat.objects.filter(id="engine-gone").update(last_seen=Now() - datetime.timedelta(minutes=1))
    flow.deploy()
    flow.fail_to_incident(flow.start("MINE"))
    other_flow.deploy()
    other_flow.fail_to_incident(other_flow.start("THEIRS"))
    other_flow.fail_to_incident(other_flow.start("THEIRS-2"))

    page = op_client.get("/inspector/engine/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "1 worker alive" in html and "1 lost" in html
    assert "engine-worker--lost" in html and "engine-gone" in html and "LOST" in html
    assert "engine-alive" in html
    # One incident of this tenant; the other tenant's two are not counted here.
    assert "<td>1</td>" in html and "<td>2</td>" not in html


def test_members_without_the_operator_role_are_refused(flow, tenant):
    member = make_user("mo", {tenant: Membership.Role.MEMBER})
    client = Client()
    client.force_login(member)
    assert client.get("/inspector/engine/").status_code == 403
