"""BASIC (API key or user), OAUTH (client credentials → Bearer) and NONE (only when allowed)."""

from __future__ import annotations

import base64
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from flowsync.models import ApiKey, Membership, Tenant
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db


def basic(name: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{secret}".encode()).decode()


@pytest.fixture
def user(creds):  # type: ignore[no-untyped-def]
    u = get_user_model().objects.create_user("demo", password="demo-pass-123")
    # Operators read instances and definitions; plain members only work their tasks (test_rights__matrix).
    Membership.objects.create(tenant=creds.tenant, user=u, role=Membership.Role.OPERATOR)
    return u


def test_user_basic_auth_and_its_tenants(client, user, other_creds):
    resp = client.post("/v2/process-instances/search", {}, content_type="application/json",
                       HTTP_AUTHORIZATION=basic("demo", "demo-pass-123"))
    assert resp.status_code == 200
    Membership.objects.create(tenant=other_creds.tenant, user=user, role=Membership.Role.OPERATOR)
    resp = client.post("/v2/process-definitions/search", {"filter": {"tenantId": "tenant-b"}},
                       content_type="application/json", HTTP_AUTHORIZATION=basic("demo", "demo-pass-123"))
    assert resp.status_code == 200
    assert_problem(client.get("/v2/topology", HTTP_AUTHORIZATION=basic("demo", "wrong")), 401)
    assert_problem(client.get("/v2/topology", HTTP_AUTHORIZATION=basic("nobody", "x")), 401)


def test_password_checks_are_cached_and_a_changed_password_is_not(client, user):
    header = basic("demo", "demo-pass-123")
    with mock.patch.object(type(user), "check_password", autospec=True, side_effect=lambda u, p: True) as check:
        for _ in range(3):
            assert client.get("/v2/topology", HTTP_AUTHORIZATION=header).status_code == 200
        assert check.call_count == 1
    user.set_password("new-pass-456")
    user.save()
    assert_problem(client.get("/v2/topology", HTTP_AUTHORIZATION=header), 401)


def test_user_without_tenant_is_forbidden(client, creds):
    get_user_model().objects.create_user("loner", password="pw-123456")
    assert_problem(client.get("/v2/topology", HTTP_AUTHORIZATION=basic("loner", "pw-123456")), 403)


def test_inactive_user_is_refused(client, user):
    user.is_active = False
    user.save()
    assert_problem(client.get("/v2/topology", HTTP_AUTHORIZATION=basic("demo", "demo-pass-123")), 401)


def _token(client, creds, **extra):  # type: ignore[no-untyped-def]
    data = {"grant_type": "client_credentials", "client_id": creds.client_id, "client_secret": creds.secret,
            "audience": "zeebe.camunda.io", **extra}
    return client.post("/oauth/token", data)


def test_oauth_client_credentials(client, creds):
    resp = _token(client, creds)
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 60
    bearer = f"Bearer {body['access_token']}"
    assert client.get("/v2/topology", HTTP_AUTHORIZATION=bearer).status_code == 200
    # A revoked key's tokens stop working at once.
    ApiKey.objects.filter(client_id=creds.client_id).update(revoked_at=timezone.now())
    assert_problem(client.get("/v2/topology", HTTP_AUTHORIZATION=bearer), 401)
    assert _token(client, creds).status_code == 401


def test_oauth_errors(client, creds, settings):
    assert _token(client, creds, grant_type="password").json()["error"] == "unsupported_grant_type"
    resp = _token(client, creds, client_secret="wrong")
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    assert resp.json()["status"] == 401 and resp.json()["instance"] == "/oauth/token"
    assert client.post("/oauth/token", {"grant_type": "client_credentials"}).status_code == 400
    assert_problem(client.get("/v2/topology", HTTP_AUTHORIZATION="Bearer not-a-token"), 401)
    settings.FLOWSYNC_OAUTH_TOKEN_SECONDS = -120
    expired = _token(client, creds).json()["access_token"]
    assert_problem(client.get("/v2/topology", HTTP_AUTHORIZATION=f"Bearer {expired}"), 401)


def test_oauth_client_secret_basic(client, creds):
    resp = client.post("/oauth/token", {"grant_type": "client_credentials"},
                       HTTP_AUTHORIZATION=basic(creds.client_id, creds.secret))
    assert resp.status_code == 200


def test_anonymous_only_when_allowed(client, creds, settings):
    assert_problem(client.get("/v2/topology"), 401)
    settings.FLOWSYNC_API_ALLOW_ANONYMOUS = True
    assert client.get("/v2/topology").status_code == 200
    resp = client.post("/v2/process-instances/search", {}, content_type="application/json")
    assert resp.status_code == 200


def test_anonymous_never_reaches_other_tenants(client, creds, other_creds, settings):
    settings.FLOWSYNC_API_ALLOW_ANONYMOUS = True
    resp = client.post("/v2/process-instances", {"processDefinitionId": "x", "tenantId": "tenant-b"},
                       content_type="application/json")
    assert_problem(resp, 403)
    assert Tenant.objects.count() == 2


def test_unsupported_scheme(client, creds):
    assert_problem(client.get("/v2/topology", HTTP_AUTHORIZATION="Digest abc"), 401)


def test_key_liveness_is_read_once_per_interval(client, creds, settings, django_assert_num_queries):
    """A process re-reads a key's revocation at most once per FLOWSYNC_API_KEY_RECHECK_SECONDS (it was a
    statement per request); a revocation through flowsync.tenancy counts at once in this process, and
    one made elsewhere (here: by hand) once the interval has passed."""
    from flowsync.tenancy import revoke_key

    settings.FLOWSYNC_API_KEY_RECHECK_SECONDS = 60
    auth = basic(creds.client_id, creds.secret)
    assert client.get("/v2/topology", HTTP_AUTHORIZATION=auth).status_code == 200  # reads and caches the key
    with django_assert_num_queries(0):
        assert client.get("/v2/topology", HTTP_AUTHORIZATION=auth).status_code == 200
    # Elsewhere: this process trusts what it read until the interval ends ...
    ApiKey.objects.filter(client_id=creds.client_id).update(revoked_at=timezone.now())
    assert client.get("/v2/topology", HTTP_AUTHORIZATION=auth).status_code == 200
    with mock.patch("flowsync.auth.credentials.time.monotonic", return_value=timezone.now().timestamp() + 10**9):
        assert_problem(client.get("/v2/topology", HTTP_AUTHORIZATION=auth), 401)
    # ... a wrong secret never passes, cached or not ...
    ApiKey.objects.filter(client_id=creds.client_id).update(revoked_at=None)
    from flowsync.auth.credentials import forget_keys

    forget_keys()
    assert client.get("/v2/topology", HTTP_AUTHORIZATION=auth).status_code == 200
    assert_problem(client.get("/v2/topology", HTTP_AUTHORIZATION=basic(creds.client_id, "wrong")), 401)
    # ... and here, through flowsync.tenancy, at once.
    assert revoke_key(ApiKey.objects.get(client_id=creds.client_id), "user:root")
    assert_problem(client.get("/v2/topology", HTTP_AUTHORIZATION=auth), 401)
