"""The admin deploys .dmn files beside BPMN (problems shown with line and element, as the API reports them),
lists decision definitions, requirements and evaluated decisions, and scopes them to the staff user's tenants."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from engine.actions.instances import start_instance
from engine.models import DecisionDefinition, DecisionInstance, ProcessDefinition
from engine.runtime.loop import drain
from flowsync.models import AuditEntry, Membership, Role, Tenant
from flowsync.staff import make_tenant_admin
from tests.conftest import make_tenant

pytestmark = pytest.mark.django_db

FILES = Path(__file__).resolve().parent / "api" / "bpmn"
DMN = (FILES / "risk-rating.dmn").read_bytes()
BPMN = (FILES / "insurance-application.bpmn").read_bytes()


def staff(name: str, tenant: Tenant, role: str) -> Client:
    user = User.objects.create_user(name, password="pw-123456789")
    make_tenant_admin(user, tenant)
    Membership.objects.filter(user=user, tenant=tenant).update(role=role)
    client = Client()
    client.force_login(user)
    return client


def test_admin_deploys_dmn_and_lists_decisions_per_tenant(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    acme, globex = make_tenant("acme").tenant, make_tenant("globex").tenant
    ada = staff("ada", acme, Role.INTEGRATOR)
    broken = DMN.replace(b"<text>vehicleModel</text>", b"<text>vehicleModel ++</text>")
    page = ada.post("/admin/engine/deployment/deploy/", {
        "tenant": acme.pk, "files": [SimpleUploadedFile("risk-rating.dmn", broken)]})
    text = page.content.decode()
    assert page.status_code == 200 and "deploy-problems" in text and "In_Model_Expr" in text
    assert not DecisionDefinition.objects.exists()
    ok = ada.post("/admin/engine/deployment/deploy/", {"tenant": acme.pk, "files": [
        SimpleUploadedFile("risk-rating.dmn", DMN), SimpleUploadedFile("insurance-application.bpmn", BPMN)]})
    assert ok.status_code == 302
    entry = AuditEntry.objects.get(what="deploy", tenant=acme)
    assert entry.after["decisions"][0]["decisionId"] == "risk"
    definition = ProcessDefinition.objects.get(tenant=acme)
    start_instance(acme, definition, {"age": 40, "vehicleManufacturer": "Audi"}, "test", definition.created_at)
    drain()
    assert DecisionInstance.objects.get().result == {"group": "green", "comment": ""}
    deployment = ok.url.rstrip("/").split("/")[-2]
    assert "risk-rating.dmn" in ada.get(f"/admin/engine/deployment/{deployment}/change/").content.decode()
    for url in ("/admin/engine/decisiondefinition/", "/admin/engine/decisionrequirements/",
                "/admin/engine/decisioninstance/"):
        assert "risk" in ada.get(url).content.decode(), url
    # Another tenant's staff sees none of it.
    gil = staff("gil", globex, Role.OPERATOR)
    assert "Risk rating" not in gil.get("/admin/engine/decisiondefinition/").content.decode()
    assert gil.get(f"/admin/engine/decisiondefinition/{DecisionDefinition.objects.get().pk}/change/").status_code in (
        302, 403, 404)
    assert "0 decision instances" in gil.get("/admin/engine/decisioninstance/").content.decode()
