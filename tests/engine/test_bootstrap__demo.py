"""The run command's bootstrap: tenant, admin, API key and demo data a person can click through."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from engine.models import ProcessInstance, UserTask
from engine.runtime.loop import drain
from flowsync.models import ApiKey

pytestmark = pytest.mark.django_db


def test_bootstrap_demo_is_idempotent_and_leaves_work_for_the_demo_user(tmp_path, capsys):
    creds = tmp_path / "creds.json"
    call_command("flowsync_bootstrap", "--demo", "--credentials-file", str(creds))
    drain()
    first = json.loads(creds.read_text())
    assert ApiKey.objects.get(client_id=first["clientId"]).check_secret(first["clientSecret"])
    offered = [t for t in UserTask.objects.filter(assignee="") if "accounting" in t.candidate_groups]
    assert len(offered) == 3
    assert UserTask.objects.filter(assignee="demo").count() == 1
    # A second run reuses the key and starts nothing new.
    call_command("flowsync_bootstrap", "--demo", "--credentials-file", str(creds))
    drain()
    assert json.loads(creds.read_text()) == first
    assert ProcessInstance.objects.count() == 6
    assert "demo" in capsys.readouterr().out
