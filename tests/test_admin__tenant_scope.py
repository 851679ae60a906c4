"""The Django admin is tenant-scoped for staff who are not superusers (issue 18, item 3): no
changelist, change page, filter or form choice shows another tenant's rows, and nobody edits
the memberships of a tenant they do not administer."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from engine.models import ProcessInstance
from flowsync.models import ApiKey, Membership, Role, Tenant
from flowsync.staff import make_tenant_admin
from tests.conftest import deploy_file, make_tenant

pytestmark = pytest.mark.django_db


def seed(tenant_id: str) -> tuple[Tenant, int]:
    creds = make_tenant(tenant_id)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=creds.header)
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    started = api.post("/v2/process-instances", {"processDefinitionId": "order-process",
                                                 "variables": {"secret": f"{tenant_id}-only"}}, format="json")
    return creds.tenant, int(started.json()["processInstanceKey"])


@pytest.fixture
def two(db, settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    acme, acme_key = seed("acme")
    globex, globex_key = seed("globex")
    from engine.runtime.loop import drain

    drain()
    return acme, acme_key, globex, globex_key


def staff(name: str, tenant: Tenant, role: str) -> Client:
    user = User.objects.create_user(name, password="pw-123456789")
    make_tenant_admin(user, tenant)  # staff + the admin-page permissions …
    Membership.objects.filter(user=user, tenant=tenant).update(role=role)  # … with this role
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ADMIN])
def test_changelists_show_only_the_users_tenants(two, role):
    acme, acme_key, globex, globex_key = two
    client = staff("sam", acme, role)
    for url, mine, theirs in [
        ("/admin/engine/processinstance/", str(acme_key), str(globex_key)),
        ("/admin/engine/variable/", "acme-only", "globex-only"),
        ("/admin/engine/command/", str(acme_key), str(globex_key)),
        ("/admin/flowsync/apikey/", "acme-key", "globex-key"),
        ("/admin/flowsync/tenant/", "acme", "globex"),
    ]:
        page = client.get(url)
        assert page.status_code == 200, url
        text = page.content.decode()
        assert mine in text and theirs not in text, url
    # Another tenant's row by its id: not shown (the admin answers "does not exist").
    other = ProcessInstance.objects.get(key=globex_key)
    page = client.get(f"/admin/engine/processinstance/{other.pk}/change/")
    assert page.status_code == 302 and page["Location"] == "/admin/"  # "… doesn't exist"
    assert "globex" not in client.get("/admin/engine/job/").content.decode()


def test_superusers_still_see_everything(two):
    acme, acme_key, globex, globex_key = two
    root = User.objects.create_superuser("root", "", "pw-123456789")
    client = Client()
    client.force_login(root)
    text = client.get("/admin/engine/processinstance/").content.decode()
    assert str(acme_key) in text and str(globex_key) in text


def test_a_tenant_admin_cannot_join_another_tenant(two):
    acme, _, globex, _ = two
    client = staff("tara", acme, Role.ADMIN)
    tara = User.objects.get(username="tara")
    assert client.get(f"/admin/flowsync/tenant/{globex.pk}/change/", follow=True).status_code == 200
    form = {"tenant_id": "globex", "name": "globex", "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0", "memberships-0-user": str(tara.pk), "memberships-0-role": "admin"}
    client.post(f"/admin/flowsync/tenant/{globex.pk}/change/", form)
    assert not Membership.objects.filter(user=tara, tenant=globex).exists()
    # An API key for the other tenant: the tenant is not among the choices.
    before = ApiKey.objects.count()
    page = client.post("/admin/flowsync/apikey/add/", {"tenant": str(globex.pk), "name": "sneaky",
                                                       "role": "integrator"})
    assert page.status_code == 200 and "Select a valid choice" in page.content.decode()
    assert ApiKey.objects.count() == before


def test_an_operator_cannot_edit_memberships_of_their_own_tenant(two):
    acme, *_ = two
    client = staff("otto", acme, Role.OPERATOR)
    otto = User.objects.get(username="otto")
    victim = User.objects.create_user("vic", password="pw-123456789")
    form = {"tenant_id": "acme", "name": "acme", "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "0",
            "memberships-0-user": str(victim.pk), "memberships-0-role": "admin"}
    response = client.post(f"/admin/flowsync/tenant/{acme.pk}/change/", form)
    assert response.status_code == 403
    assert not Membership.objects.filter(user=victim).exists()
    assert Membership.objects.get(user=otto).role == Role.OPERATOR
