"""Hardening (issue 18, item 8): the production profile passes `check --deploy`, pages carry a
Content-Security-Policy, deployed BPMN XML is a sandboxed download, the API schema is public."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import ROOT, deploy_file

pytestmark = pytest.mark.django_db


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSYNC_")}
    base.update({"DJANGO_SETTINGS_MODULE": "flowsync.settings", "FLOWSYNC_SECRET_KEY": secrets.token_urlsafe(50),
                 **env})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True)


def test_production_profile_passes_check_deploy():
    done = manage("check", "--deploy", "--fail-level", "WARNING", FLOWSYNC_HTTPS="1",
                  FLOWSYNC_ALLOWED_HOSTS="flow.example.com")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "no issues" in done.stdout
    # The embedded http://localhost default is no production profile: check --deploy says so.
    assert manage("check", "--deploy", "--fail-level", "WARNING").returncode != 0


def test_https_profile_settings():
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0, s.SECURE_SSL_REDIRECT)")
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSYNC_")}
    base.update(DJANGO_SETTINGS_MODULE="flowsync.settings", FLOWSYNC_SECRET_KEY=secrets.token_urlsafe(50))
    on = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**base, "FLOWSYNC_HTTPS": "1"},
                        capture_output=True, text=True, check=True)
    off = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True, check=True)
    assert on.stdout.split() == ["True", "True", "True", "True"]
    assert off.stdout.split() == ["False", "False", "False", "False"]


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/", "/tasks/", "/inspector/"])
def test_pages_carry_a_strict_script_policy(path):
    user = User.objects.create_user("csp", password="pw-123456789")
    client = Client()
    if path in ("/tasks/", "/inspector/"):
        client.force_login(user)
    response = client.get(path)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "unsafe-eval" not in policy and "script-src 'self' 'unsafe-inline'" not in policy


def test_templates_have_no_inline_scripts_or_handlers():
    import re

    for folder in ("templates", "tasklist/templates", "inspector/templates"):
        for path in (ROOT / folder).rglob("*.html"):
            text = path.read_text()
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
            assert not re.search(r"\son[a-z]+\s*=", text), path
            assert not re.search(r"hx-trigger=\"[^\"]*\[", text), path  # htmx filters need eval


def test_deployed_xml_is_a_sandboxed_download(api):
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    key = api.post("/v2/process-definitions/search", {}, format="json").json()["items"][0]["processDefinitionKey"]
    response = api.get(f"/v2/process-definitions/{key}/xml")
    assert response.status_code == 200 and response.content.startswith(b"<?xml")
    assert response["Content-Disposition"] == 'attachment; filename="order-process.bpmn"'
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_api_schema_is_public_and_holds_no_tenant_data(creds):
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    assert creds.client_id not in response.content.decode()
