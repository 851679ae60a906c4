"""flowsync_bootstrap makes a tenant admin, not a platform superuser; passwords are never guessable
outside demo mode (issue 18, item 4)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from flowsync.models import Membership, Role, Tenant

pytestmark = pytest.mark.django_db


def bootstrap(tmp_path, *args: str) -> dict:  # type: ignore[no-untyped-def]
    from io import StringIO

    out = StringIO()
    call_command("flowsync_bootstrap", *args, "--credentials-file", str(tmp_path / "c.json"), "--json", stdout=out)
    return json.loads(out.getvalue())


def test_tenant_admin_is_no_superuser_and_gets_a_generated_password(tmp_path):
    Tenant.objects.create(tenant_id="other", name="Other")
    creds = bootstrap(tmp_path, "--tenant", "acme", "--admin-user", "yara")
    user = get_user_model().objects.get(username="yara")
    assert not user.is_superuser and user.is_staff
    assert Membership.objects.get(user=user).role == Role.ADMIN
    password = creds["adminPassword"]
    assert password not in ("admin", "demo") and len(password) >= 12
    assert user.check_password(password)
    # The Inspector offers only their tenant, never "other".
    client = Client()
    client.force_login(user)
    page = client.get("/inspector/")
    assert page.status_code == 200
    assert [t.tenant_id for t in page.context["ctx"].tenants] == ["acme"]
    # A second run does not reset nor print the password.
    assert "adminPassword" not in bootstrap(tmp_path, "--tenant", "acme", "--admin-user", "yara")


def test_superuser_only_on_purpose(tmp_path):
    bootstrap(tmp_path, "--tenant", "acme", "--admin-user", "root", "--superuser")
    assert get_user_model().objects.get(username="root").is_superuser


def test_demo_passwords_only_in_demo_mode_and_said_so(tmp_path, capsys):
    call_command("flowsync_bootstrap", "--demo", "--credentials-file", str(tmp_path / "c.json"))
    out = capsys.readouterr().out
    assert "password 'admin' (DEMO password" in out and "'demo' (DEMO password)" in out
    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password("admin") and not admin.is_superuser
