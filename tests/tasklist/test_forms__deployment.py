"""Form resources deploy beside processes: .form (Camunda Forms) and .schema.json, versioned, checked."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from engine.bpmn import DefinitionError
from engine.definitions.deploy import Resource, deploy
from engine.models import Form, ProcessDefinition
from tests.tasklist.conftest import BPMN

pytestmark = pytest.mark.django_db

FORM = (BPMN / "expense-claim-form.form").read_bytes()
SCHEMA = (BPMN / "expense-review.schema.json").read_bytes()


def test_forms_are_stored_and_versioned(acme, flow):
    deploy(acme, [Resource("forms/expense-claim-form.form", FORM), Resource("expense-review.schema.json", SCHEMA)],
           flow.now())
    rows = {(f.form_id, f.kind, f.version) for f in Form.objects.filter(tenant=acme)}
    assert rows == {("expense-claim-form", "formjs", 1), ("expense-review", "jsonschema", 1)}
    deploy(acme, [Resource("expense-claim-form.form", FORM)], flow.now())  # same content: no new version
    assert Form.objects.filter(tenant=acme, form_id="expense-claim-form").count() == 1
    changed = json.loads(FORM)
    changed["components"][0]["label"] = "Purpose"
    deploy(acme, [Resource("expense-claim-form.form", json.dumps(changed).encode())], flow.now())
    latest = Form.objects.filter(tenant=acme, form_id="expense-claim-form").order_by("-version").first()
    assert latest.version == 2 and latest.document["components"][0]["label"] == "Purpose"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.form", b"{not json", "not valid JSON"),
        ("a.form", b"[]", "must be a JSON object"),
        ("a.form", b'{"components": []}', 'needs an "id"'),
        ("a.form", b'{"id": "x", "components": [{"type": "textfield", "key": "a b"}]}', "components[0]"),
        ("bad id.schema.json", b'{"type": "object"}', "may use only letters"),
        ("b.schema.json", b'{"type": "object", "properties": {"n": {"type": "number", "minimum": "x"}}}',
         "properties.n"),
    ],
)
def test_broken_forms_are_refused_with_the_reason(acme, flow, name, content, message):
    with pytest.raises(DefinitionError) as info:
        deploy(acme, [Resource(name, content)], flow.now())
    assert message in str(info.value)
    assert not Form.objects.exists()


def test_a_bad_form_refuses_the_whole_deployment(acme, flow):
    process = (BPMN / "expense-claim.bpmn").read_bytes()
    with pytest.raises(DefinitionError):
        deploy(acme, [Resource("expense-claim.bpmn", process), Resource("x.form", b"{")], flow.now())
    assert not ProcessDefinition.objects.exists()


def test_forms_deploy_through_the_api(api, creds):
    files = [SimpleUploadedFile("expense-claim-form.form", FORM), SimpleUploadedFile("review.schema.json", SCHEMA),
             SimpleUploadedFile("expense-claim.bpmn", (BPMN / "expense-claim.bpmn").read_bytes())]
    response = api.post("/v2/deployments", {"resources": files}, format="multipart")
    assert response.status_code == 200, response.content
    assert set(Form.objects.filter(tenant=creds.tenant).values_list("form_id", flat=True)) == {
        "expense-claim-form", "review"}
    bad = api.post("/v2/deployments", {"resources": [SimpleUploadedFile("x.form", b"{")]}, format="multipart")
    assert bad.status_code == 400 and "not valid JSON" in bad.content.decode()
