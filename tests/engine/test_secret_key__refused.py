"""No production-like start on a known SECRET_KEY; OAuth tokens cannot be forged from a client id
(issue 18, item 2)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import pytest
from django.core import signing
from django.test import Client

from flowsync import secret_key
from flowsync.auth.tokens import SALT
from flowsync.models import ApiKey
from tests.conftest import ROOT

LOAD_SETTINGS = "import django; django.setup(); from django.conf import settings; print(len(settings.SECRET_KEY))"


def load_settings(tmp_path, **env: str) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    base = {k: v for k, v in os.environ.items() if k not in ("FLOWSYNC_SECRET_KEY", "FLOWSYNC_DEBUG")}
    base.update({"DJANGO_SETTINGS_MODULE": "flowsync.settings", "FLOWSYNC_SECRET_KEY_FILE": str(tmp_path / "key"),
                 **env})
    return subprocess.run([sys.executable, "-c", LOAD_SETTINGS], cwd=ROOT, env=base, capture_output=True, text=True)


@pytest.mark.parametrize("key", ["", "flowsync-insecure-dev-key-change-me", "django-insecure-abc", "short-key"])
def test_settings_refuse_a_known_or_empty_key_unless_debug(tmp_path, key):
    refused = load_settings(tmp_path, FLOWSYNC_SECRET_KEY=key)
    assert refused.returncode != 0 and "FLOWSYNC_SECRET_KEY cannot be used" in refused.stderr
    assert load_settings(tmp_path, FLOWSYNC_SECRET_KEY=key, FLOWSYNC_DEBUG="1").returncode == 0


def test_the_run_command_generates_one_key_per_installation(tmp_path):
    path = tmp_path / "var" / "secret_key"
    contents = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "flowsync.secret_key", str(path)], cwd=ROOT,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        contents.append(path.read_text())
    first = contents[0]
    assert contents[1] == first and secret_key.problem_with(first.strip()) is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_settings(path.parent.parent, FLOWSYNC_SECRET_KEY_FILE=str(path))
    assert loaded.returncode == 0 and loaded.stdout.strip() == str(len(first.strip()))
    assert "secret_key" in (ROOT / "scripts" / "run.sh").read_text()


@pytest.mark.django_db
def test_a_token_made_from_a_client_id_alone_is_refused(creds):
    key = ApiKey.objects.get(client_id=creds.client_id)
    # What the old tokens held, signed with the real key: still not enough without the secret's binding.
    forged = signing.dumps({"k": key.pk, "c": key.client_id, "exp": int(time.time()) + 600}, salt=SALT)
    client = Client()
    assert client.get("/v2/topology", HTTP_AUTHORIZATION=f"Bearer {forged}").status_code == 401
    issued = client.post("/oauth/token", {"grant_type": "client_credentials", "client_id": creds.client_id,
                                          "client_secret": creds.secret}).json()["access_token"]
    assert client.get("/v2/topology", HTTP_AUTHORIZATION=f"Bearer {issued}").status_code == 200
    # A new secret for the key ends its tokens.
    ApiKey.objects.filter(pk=key.pk).update(secret_hash="0" * 64)
    assert client.get("/v2/topology", HTTP_AUTHORIZATION=f"Bearer {issued}").status_code == 401
