"""Usernames cannot be told by timing, and guessing is throttled per name and per address
(issue 18, item 6): the API's Basic auth, the OAuth token endpoint and the login page."""

from __future__ import annotations

import base64
import statistics
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client

from flowsync.models import Membership

pytestmark = pytest.mark.django_db
PASSWORD = "right-pass-123"
calls: list[str] = []


class CountingHasher(MD5PasswordHasher):
    """Counts how often a password is hashed or checked (the proof that both failure paths hash)."""

    algorithm = "counting_md5"

    def encode(self, password, salt):  # type: ignore[no-untyped-def]
        calls.append("hash")
        return super().encode(password, salt).replace("md5$", "counting_md5$", 1)

    def verify(self, password, encoded):  # type: ignore[no-untyped-def]
        return self.encode(password, encoded.split("$")[1]) == encoded


def basic(name: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{secret}".encode()).decode()


@pytest.fixture
def user(creds):  # type: ignore[no-untyped-def]
    u = get_user_model().objects.create_user("known", password=PASSWORD)
    Membership.objects.create(tenant=creds.tenant, user=u, role=Membership.Role.OPERATOR)
    return u


def test_unknown_and_known_users_both_run_the_password_hasher(settings, creds):
    settings.PASSWORD_HASHERS = ["tests.api.test_auth__guessing.CountingHasher"]
    get_user_model().objects.create_user("known", password=PASSWORD)
    client = Client()
    for name in ("known", "nobody-by-this-name"):
        calls.clear()
        assert client.get("/v2/topology", HTTP_AUTHORIZATION=basic(name, "wrong")).status_code == 401
        assert calls == ["hash"], name


def test_failure_times_do_not_tell_known_from_unknown_users(user):
    """With the real (slow) hasher: before, unknown users answered in a sixth of the time."""
    client = Client()

    def timed(name: str) -> float:
        start = time.perf_counter()
        assert client.get("/v2/topology", HTTP_AUTHORIZATION=basic(name, "wrong")).status_code == 401
        return time.perf_counter() - start

    known = statistics.median(timed("known") for _ in range(3))
    unknown = statistics.median(timed(f"ghost-{i}") for i in range(3))
    assert unknown > known * 0.5, (known, unknown)


def test_basic_auth_guessing_is_throttled_per_username(settings, user, caplog):
    settings.FLOWSYNC_LOGIN_MAX_FAILURES_PER_USER = 5
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user.set_password(PASSWORD)
    user.save()
    client = Client()
    for _ in range(5):
        assert client.get("/v2/topology", HTTP_AUTHORIZATION=basic("known", "guess")).status_code == 401
    refused = client.get("/v2/topology", HTTP_AUTHORIZATION=basic("known", PASSWORD))
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert refused["Content-Type"].startswith("application/problem+json")
    assert "sign-in throttled" in caplog.text
    # Another name from the same address is not held back by this one.
    other = get_user_model().objects.create_user("other", password=PASSWORD)
    Membership.objects.create(tenant=user.memberships.first().tenant, user=other, role="operator")
    assert client.get("/v2/topology", HTTP_AUTHORIZATION=basic("other", PASSWORD)).status_code == 200


def test_guessing_from_one_address_is_throttled_across_names(settings, creds):
    settings.FLOWSYNC_LOGIN_MAX_FAILURES_PER_IP = 4
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client = Client()
    for i in range(4):
        assert client.get("/v2/topology", HTTP_AUTHORIZATION=basic(f"name-{i}", "x")).status_code == 401
    assert client.get("/v2/topology", HTTP_AUTHORIZATION=basic("name-new", "x")).status_code == 429
    elsewhere = Client(REMOTE_ADDR="10.9.8.7")
    assert elsewhere.get("/v2/topology", HTTP_AUTHORIZATION=basic("name-new", "x")).status_code == 401
    # An API key's right secret still passes from the throttled address.
    assert client.get("/v2/topology", HTTP_AUTHORIZATION=creds.header).status_code == 200


def test_oauth_token_guessing_is_throttled(settings, creds):
    settings.FLOWSYNC_LOGIN_MAX_FAILURES_PER_USER = 3
    client = Client()
    form = {"grant_type": "client_credentials", "client_id": creds.client_id}
    for _ in range(3):
        assert client.post("/oauth/token", {**form, "client_secret": "guess"}).status_code == 401
    refused = client.post("/oauth/token", {**form, "client_secret": "guess"})
    assert refused.status_code == 429 and refused["Retry-After"]
    # The integration holding the real secret is not locked out by someone else's guesses.
    assert client.post("/oauth/token", {**form, "client_secret": creds.secret}).status_code == 200


def test_login_page_guessing_is_throttled_and_success_clears_the_count(settings, user):
    settings.FLOWSYNC_LOGIN_MAX_FAILURES_PER_USER = 3
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user.set_password(PASSWORD)
    user.save()
    client = Client()
    assert client.post("/accounts/login/", {"username": "known", "password": "x"}).status_code == 200
    assert client.post("/accounts/login/", {"username": "known", "password": PASSWORD}).status_code == 302
    for _ in range(3):
        assert client.post("/accounts/login/", {"username": "known", "password": "x"}).status_code == 200
    fresh = Client()
    page = fresh.post("/accounts/login/", {"username": "known", "password": PASSWORD})
    assert page.status_code == 429 and page["Retry-After"]
    assert "Too many failed sign-ins" in page.content.decode()
    assert "_auth_user_id" not in fresh.session


def test_redis_down_fails_open(settings, user, caplog):
    """Documented choice: without Redis the brake is off (logged), sign-in keeps working."""
    from flowsync import redis

    settings.RQ_QUEUES = {name: {**queue, "URL": "redis://127.0.0.1:1/0"} for name, queue in settings.RQ_QUEUES.items()}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user.set_password(PASSWORD)
    user.save()
    redis._cache.clear()  # connect again, to the port nothing listens on
    try:
        assert Client().get("/v2/topology", HTTP_AUTHORIZATION=basic("known", "x")).status_code == 401
        assert Client().get("/v2/topology", HTTP_AUTHORIZATION=basic("known", PASSWORD)).status_code == 200
    finally:
        redis._cache.clear()
    assert "sign-in throttle not checked, Redis unavailable" in caplog.text
