"""Host header poisoning (issue 18, item 5): only configured host names are served, so a
password-reset mail cannot carry an attacker's host."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def allowed_hosts(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("FLOWSYNC_ALLOWED_HOSTS", "FLOWSYNC_HOST")}
    base.update({"DJANGO_SETTINGS_MODULE": "flowsync.settings", **env})
    code = "import django; django.setup(); from django.conf import settings; print(','.join(settings.ALLOWED_HOSTS))"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_default_is_the_local_names_not_everything():
    assert allowed_hosts() == "localhost,127.0.0.1,[::1]"
    assert allowed_hosts(FLOWSYNC_HOST="10.1.2.3") == "localhost,127.0.0.1,[::1],10.1.2.3"
    assert allowed_hosts(FLOWSYNC_ALLOWED_HOSTS="flow.example.com") == "flow.example.com"


def test_password_reset_mail_never_carries_a_foreign_host(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
    get_user_model().objects.create_user("ann", "ann@example.com", "pw-123456789")
    client = Client()
    poisoned = client.post("/accounts/password_reset/", {"email": "ann@example.com"}, HTTP_HOST="evil.example")
    assert poisoned.status_code == 400 and mail.outbox == []
    sent = client.post("/accounts/password_reset/", {"email": "ann@example.com"}, HTTP_HOST="localhost")
    assert sent.status_code == 302 and len(mail.outbox) == 1
    assert "http://localhost/accounts/reset/" in mail.outbox[0].body and "evil" not in mail.outbox[0].body
