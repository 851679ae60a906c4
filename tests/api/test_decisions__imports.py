"""DMN <import> over HTTP: a model requiring another model's decisions deploys with it or after it, evaluates
with the imported decision's value as `prefix.name` (recorded as a decision instance of its own), takes the
imported model deployed with it over a later one, and is refused (400, nothing stored) when the imported
model or decision is nowhere."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from engine.models import DecisionDefinition, DecisionRequirements
from tests.api.conftest import assert_problem
from tests.conftest import deploy_file

pytestmark = pytest.mark.django_db

NS = "https://www.omg.org/spec/DMN/20230324/MODEL/"


def dmn(name: str, body: str, imports: str = "") -> bytes:
    tag = f'<import namespace="urn:{imports}" name="lib" importType="{NS}"/>' if imports else ""
    return (f'<definitions xmlns="{NS}" id="{name}" name="{name}" namespace="urn:{name}">{tag}{body}'
            "</definitions>").encode()


def rates(percent: str) -> bytes:
    return dmn("rates", f"""
      <itemDefinition name="tAmount"><typeRef>number</typeRef></itemDefinition>
      <inputData id="in_amount" name="amount"><variable name="amount" typeRef="number"/></inputData>
      <decision id="vat" name="VAT">
        <informationRequirement><requiredInput href="#in_amount"/></informationRequirement>
        <literalExpression><text>round half up(amount * {percent}, 2)</text></literalExpression>
      </decision>""")


GROSS = dmn("gross", """
  <decision id="gross" name="Gross">
    <informationRequirement><requiredDecision href="urn:rates#vat"/></informationRequirement>
    <literalExpression><text>amount + lib.VAT</text></literalExpression>
  </decision>""", imports="rates")


def deploy(api: APIClient, *files: tuple[str, bytes]):  # type: ignore[no-untyped-def]
    uploads = [SimpleUploadedFile(name, content, content_type="application/octet-stream") for name, content in files]
    return api.post("/v2/deployments", {"resources": uploads}, format="multipart")


def evaluate(api: APIClient, amount: float):  # type: ignore[no-untyped-def]
    return api.post("/v2/decision-definitions/evaluation",
                    {"decisionDefinitionId": "gross", "variables": {"amount": amount}}, format="json")


def test_an_imported_decision_deployed_together_is_evaluated_and_recorded(api):
    assert deploy(api, ("gross.dmn", GROSS), ("rates.dmn", rates("0.19"))).status_code == 200
    assert DecisionRequirements.objects.get(decision_requirements_id="rates").namespace == "urn:rates"
    answer = evaluate(api, 10.05)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["output"] == "11.96"  # 10.05 + round half up(1.9095, 2), in decimal
    assert [d["decisionDefinitionId"] for d in body["evaluatedDecisions"]] == ["vat", "gross"]


def test_an_importer_deployed_later_finds_the_model_deployed_before(api):
    assert deploy(api, ("rates.dmn", rates("0.19"))).status_code == 200
    assert deploy_file(api, "gross.dmn", GROSS).status_code == 200
    assert evaluate(api, 100).json()["output"] == "119"
    # A new version of the imported model: the importer (deployed alone) takes the latest.
    assert deploy(api, ("rates.dmn", rates("0.07"))).status_code == 200
    assert evaluate(api, 100).json()["output"] == "107"


def test_the_imported_model_deployed_together_wins_over_a_later_one(api):
    assert deploy(api, ("gross.dmn", GROSS), ("rates.dmn", rates("0.19"))).status_code == 200
    assert deploy(api, ("rates.dmn", rates("0.07"))).status_code == 200
    assert evaluate(api, 100).json()["output"] == "119"


def test_an_import_of_nothing_is_refused_and_nothing_is_stored(api):
    body = assert_problem(deploy_file(api, "gross.dmn", GROSS), 400)
    assert "urn:rates" in body["detail"] and "neither in this deployment nor deployed before" in body["detail"]
    wrong = GROSS.replace(b"urn:rates#vat", b"urn:rates#nope")
    body = assert_problem(deploy(api, ("gross.dmn", wrong), ("rates.dmn", rates("0.19"))), 400)
    assert "requires decision 'nope', which is not in the imported model 'urn:rates'" in body["detail"]
    unimported = GROSS.replace(b"urn:rates#vat", b"urn:elsewhere#vat")
    body = assert_problem(deploy(api, ("gross.dmn", unimported), ("rates.dmn", rates("0.19"))), 400)
    assert "does not <import> the namespace 'urn:elsewhere'" in body["detail"]
    assert not DecisionDefinition.objects.exists()
