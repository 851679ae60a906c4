"""No dead ends on the first pages: `/`, every URL the start-up banner prints, the admin's
"View site" link; engine tables' add/delete URLs answer a redirect (no logged traceback); a
deployment's admin page lists its resources."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from engine.models import Deployment

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db


def banner_paths() -> list[str]:
    paths = re.findall(r"http://\$HOST:\$PORT(/\S*)", (ROOT / "scripts" / "run.sh").read_text())
    assert "/" in paths and "/v2/" in paths and "/api/docs/" in paths, paths
    return paths


@pytest.fixture
def admin_client_() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "", "root password"))
    return client


def test_root_and_every_banner_url_answer(client):
    for path in ["/", *banner_paths()]:
        response = client.get(path)
        assert response.status_code in (200, 302), (path, response.status_code)
        if response.status_code == 302:
            assert client.get(response["Location"]).status_code == 200, (path, response["Location"])
    page = client.get("/").content.decode()
    for href in ('href="/tasks/"', 'href="/inspector/"', 'href="/admin/"', 'href="/api/docs/"'):
        assert href in page
    assert client.get("/v2/")["Location"] == "/api/docs/"


def test_admin_view_site_link_leads_somewhere(admin_client_):
    page = admin_client_.get("/admin/").content.decode()
    site = re.search(r'<a href="([^"]+)">View site</a>', page)
    assert site, "no View site link"
    assert admin_client_.get(site.group(1)).status_code == 200


@pytest.mark.parametrize("model", ["deployment", "processdefinition", "processinstance", "elementinstance",
                                   "variable", "job", "command", "event", "incident"])
def test_engine_table_add_url_redirects_without_a_traceback(admin_client_, model, caplog):
    with caplog.at_level(logging.WARNING):
        response = admin_client_.get(f"/admin/engine/{model}/add/")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/engine/{model}/"
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    page = admin_client_.get(response["Location"]).content.decode()
    assert "read-only here" in page


def test_deployment_admin_page_lists_its_resources(admin_client_, tmp_path):
    call_command("flowsync_bootstrap", "--demo", "--credentials-file", str(tmp_path / "creds.json"))
    deployment = Deployment.objects.get()
    page = admin_client_.get(f"/admin/engine/deployment/{deployment.key}/change/").content.decode()
    for name in ("order-process.bpmn", "expense-claim.bpmn", "invoice-approval.bpmn", "order-messages.bpmn",
                 "expense-claim-form.form", "expense-review.schema.json"):
        assert name in page, name
    listing = admin_client_.get("/admin/engine/deployment/").content.decode()
    assert "order-process.bpmn" in listing
