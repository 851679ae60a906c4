from __future__ import annotations

import pytest
from django.test import Client

from flowsync.models import Membership
from tests.inspector.conftest import make_user

pytestmark = pytest.mark.django_db


def test_anonymous_people_are_sent_to_log_in(flow):
    response = Client().get("/inspector/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_member_without_the_operator_role_is_refused(flow, tenant):
    key = flow.start("B-1")
    member = make_user("mia", {tenant: Membership.Role.MEMBER})
    client = Client()
    client.force_login(member)
    for url in ("/inspector/", f"/inspector/instances/{key}/", f"/inspector/instances/{key}/diagram.json",
                "/inspector/incidents/"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/inspector/instances/{key}/cancel/", {"confirm": "yes"}).status_code == 403


def test_admins_and_superusers_may_inspect(flow, tenant):
    key = flow.start()
    admin = make_user("ada", {tenant: Membership.Role.ADMIN})
    root = make_user("root", {}, is_superuser=True, is_staff=True)
    for user in (admin, root):
        client = Client()
        client.force_login(user)
        assert client.get(f"/inspector/instances/{key}/").status_code == 200


def test_another_tenants_instance_and_incident_are_not_found(op_client, flow, other_flow):
    mine = flow.start("MINE")
    theirs = other_flow.start("THEIRS")
    incident = other_flow.fail_to_incident(theirs)
    assert op_client.get(f"/inspector/instances/{mine}/").status_code == 200
    for url in (f"/inspector/instances/{theirs}/", f"/inspector/instances/{theirs}/diagram.json",
                f"/inspector/instances/{theirs}/cancel/"):
        assert op_client.get(url).status_code == 404, url
    assert op_client.post(f"/inspector/instances/{theirs}/cancel/", {"confirm": "yes"}).status_code == 404
    assert op_client.post(f"/inspector/instances/{theirs}/variables/", {"name": "x", "value": "1"}).status_code == 404
    assert op_client.post(f"/inspector/incidents/{incident.key}/retry/", {"retries": "1"}).status_code == 404
    # The batch form skips (and reports) keys of other tenants; nothing of theirs changes.
    op_client.post("/inspector/incidents/retry/", {"incident": [str(incident.key)], "retries": "1"})
    incident.refresh_from_db()
    assert incident.state == "ACTIVE"
    listing = op_client.get("/inspector/").content.decode()
    assert str(mine) in listing and str(theirs) not in listing
    assert str(incident.key) not in op_client.get("/inspector/incidents/").content.decode()


def test_an_operator_of_two_tenants_switches_between_them(flow, other_flow, tenant, other_tenant):
    mine, theirs = flow.start(), other_flow.start()
    user = make_user("tom", {tenant: Membership.Role.OPERATOR, other_tenant: Membership.Role.OPERATOR})
    client = Client()
    client.force_login(user)
    first = client.get("/inspector/").content.decode()
    assert (str(mine) in first) != (str(theirs) in first)
    client.post("/inspector/tenant/", {"tenant": other_tenant.tenant_id})
    assert client.get(f"/inspector/instances/{theirs}/").status_code == 200
    assert client.get(f"/inspector/instances/{mine}/").status_code == 404


def test_forms_need_the_csrf_token(operator, flow):
    key = flow.start(tier="gold")
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    assert client.post(f"/inspector/instances/{key}/cancel/", {"confirm": "yes"}).status_code == 403
    page = client.get(f"/inspector/instances/{key}/").content.decode()
    assert page.count("csrfmiddlewaretoken") >= 3
