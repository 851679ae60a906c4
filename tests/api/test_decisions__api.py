"""Decisions over HTTP: bad DMN is a 400 problem with line and element, nothing half-written; versions and
dedupe; bad requests are 400 problems; another tenant's decisions, requirements and evaluations are 404 and
never listed; rights per view."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from engine.models import DecisionDefinition, DecisionInstance, DecisionRequirements, Deployment
from flowsync.models import ApiKey
from tests.api.conftest import assert_problem
from tests.conftest import deploy_file

pytestmark = pytest.mark.django_db

DMN = (Path(__file__).resolve().parent / "bpmn" / "risk-rating.dmn").read_bytes()
GOOD = {"age": 40, "vehicleManufacturer": "Audi", "vehicleModel": "A4"}


def evaluate(api, **body):  # type: ignore[no-untyped-def]
    return api.post("/v2/decision-definitions/evaluation", body, format="json")


def test_bad_dmn_is_a_problem_with_line_and_element_and_writes_nothing(api):
    broken = DMN.replace(b'<text>age</text>', b'<text>age +* 2</text>')
    body = assert_problem(deploy_file(api, "risk-rating.dmn", broken), 400)
    assert "In_Age_Expr" in body["detail"] and "line" in body["detail"], body
    bad_test = DMN.replace(b'<text>&lt;=25</text>', b'<text>&lt;= (25</text>')
    body = assert_problem(deploy_file(api, "risk-rating.dmn", bad_test), 400)
    assert "R1_Age" in body["detail"] and "unary tests" in body["detail"], body
    unknown = DMN.replace(b'<requiredInput href="#Input_Age" />', b'<requiredDecision href="#nowhere" />')
    body = assert_problem(deploy_file(api, "risk-rating.dmn", unknown), 400)
    assert "requires decision 'nowhere'" in body["detail"] and "line" in body["detail"], body
    body = assert_problem(deploy_file(api, "risk-rating.dmn", b"<definitions id='x'><decision"), 400)
    assert "malformed XML" in body["detail"]
    no_logic = DMN.split(b"<decisionTable")[0] + b"</decision></definitions>"
    body = assert_problem(deploy_file(api, "risk-rating.dmn", no_logic), 400)
    assert "no decision logic" in body["detail"]
    assert not DecisionRequirements.objects.exists() and not DecisionDefinition.objects.exists()
    assert not Deployment.objects.exists()


def test_versions_and_dedupe_like_processes(api):
    first = deploy_file(api, "risk-rating.dmn", DMN).json()
    [decision, requirements] = first["deployments"]
    assert decision["processDefinition"] is None and decision["decisionDefinition"]["version"] == 1
    assert requirements["decisionRequirements"]["decisionRequirementsId"] == "risk-rating"
    same = deploy_file(api, "risk-rating.dmn", DMN).json()
    assert same["deployments"][0]["decisionDefinition"] == decision["decisionDefinition"]
    changed = deploy_file(api, "risk-rating.dmn", DMN.replace(b'"Very young"', b'"Young"')).json()
    assert changed["deployments"][0]["decisionDefinition"]["version"] == 2
    assert changed["deployments"][1]["decisionRequirements"]["version"] == 2
    latest = api.post("/v2/decision-definitions/search", {"filter": {"isLatestVersion": True}}, format="json")
    assert [d["version"] for d in latest.json()["items"]] == [2]
    # By id the latest version is evaluated; by key the one named.
    assert evaluate(api, decisionDefinitionId="risk", variables={"age": 20}).json()["output"] == (
        '{"group":"yellow","comment":"Young"}')
    old = evaluate(api, decisionDefinitionKey=decision["decisionDefinition"]["decisionDefinitionKey"],
                   variables={"age": 20})
    assert old.json()["decisionDefinitionVersion"] == 1 and "Very young" in old.json()["output"]


def test_bad_requests_are_problems(api):
    deploy_file(api, "risk-rating.dmn", DMN)
    assert_problem(evaluate(api), 400)
    assert_problem(evaluate(api, decisionDefinitionId="risk", decisionDefinitionKey="1"), 400)
    assert_problem(evaluate(api, decisionDefinitionId="risk", variables=[1]), 400)
    assert_problem(evaluate(api, decisionDefinitionId="risk", extra=1), 400)
    assert_problem(evaluate(api, decisionDefinitionId="nope"), 404)
    assert_problem(evaluate(api, decisionDefinitionKey="12345"), 404)
    assert_problem(api.get("/v2/decision-definitions/abc"), 400)
    assert_problem(api.get("/v2/decision-instances/abc"), 404)
    assert_problem(api.post("/v2/decision-instances/search", {"filter": {"decisionEvaluationInstanceKey": "x"}},
                            format="json"), 400)
    assert_problem(api.post("/v2/decision-definitions/search", {"filter": {"version": "one"}}, format="json"), 400)
    assert_problem(api.post("/v2/decision-definitions/search", {"sort": [{"field": "nope"}]}, format="json"), 400)


def test_a_failing_evaluation_is_recorded_and_answered_400(api):
    unique = DMN.replace(b'hitPolicy="FIRST"', b'hitPolicy="UNIQUE"')
    deploy_file(api, "risk-rating.dmn", unique)
    body = assert_problem(evaluate(api, decisionDefinitionId="risk", variables={
        "age": 20, "vehicleManufacturer": "Porsche", "vehicleModel": "p911"}), 400)
    assert "UNIQUE" in body["detail"] and "'risk'" in body["detail"]
    failed = DecisionInstance.objects.get()
    assert failed.state == "FAILED" and "UNIQUE" in failed.evaluation_failure
    found = api.post("/v2/decision-instances/search", {"filter": {"state": "FAILED"}}, format="json").json()
    assert [i["evaluationFailure"] is not None for i in found["items"]] == [True]


def test_another_tenants_decisions_are_invisible(api, other_api):
    deployed = deploy_file(api, "risk-rating.dmn", DMN).json()["deployments"]
    decision_key = deployed[0]["decisionDefinition"]["decisionDefinitionKey"]
    drg_key = deployed[1]["decisionRequirements"]["decisionRequirementsKey"]
    evaluated = evaluate(api, decisionDefinitionId="risk", variables=GOOD).json()
    instance = evaluated["evaluatedDecisions"][0]["decisionEvaluationInstanceKey"]
    assert api.get(f"/v2/decision-instances/{instance}").json()["matchedRules"][0]["ruleId"] == "Rule_Audi"
    for url in (f"/v2/decision-definitions/{decision_key}", f"/v2/decision-definitions/{decision_key}/xml",
                f"/v2/decision-requirements/{drg_key}", f"/v2/decision-requirements/{drg_key}/xml",
                f"/v2/decision-instances/{instance}"):
        assert_problem(other_api.get(url), 404)
        assert api.get(url).status_code == 200
    assert_problem(evaluate(other_api, decisionDefinitionKey=decision_key), 404)
    assert_problem(evaluate(other_api, decisionDefinitionId="risk"), 404)
    for search in ("decision-definitions", "decision-requirements", "decision-instances"):
        assert other_api.post(f"/v2/{search}/search", {}, format="json").json()["items"] == []
        assert len(api.post(f"/v2/{search}/search", {}, format="json").json()["items"]) == 1


def client_with(creds, role: str) -> APIClient:  # type: ignore[no-untyped-def]
    key, secret = ApiKey.issue(creds.tenant, f"{role}-key", role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{key.client_id}:{secret}".encode()).decode())
    return client


def test_rights_per_view(api, creds):
    deploy_file(api, "risk-rating.dmn", DMN)
    operator, member = client_with(creds, "operator"), client_with(creds, "member")
    assert evaluate(operator, decisionDefinitionId="risk", variables=GOOD).status_code == 200  # START
    assert operator.post("/v2/decision-instances/search", {}, format="json").status_code == 200  # READ
    assert_problem(deploy_file(operator, "risk-rating.dmn", DMN.replace(b"Very young", b"x")), 403)  # DEPLOY
    assert_problem(evaluate(member, decisionDefinitionId="risk", variables=GOOD), 403)
    assert_problem(member.post("/v2/decision-definitions/search", {}, format="json"), 403)
    assert_problem(member.get("/v2/decision-instances/1-1"), 403)


def test_required_decisions_are_evaluated_and_listed_and_instances_found_by_key(api):
    dmn = (Path(__file__).resolve().parents[1] / "engine" / "conformance" / "dmn" / "risk.dmn").read_bytes()
    deploy_file(api, "risk.dmn", dmn)
    headers = {"HTTP_IDEMPOTENCY_KEY": "eval-1"}
    body = {"decisionDefinitionId": "risk", "variables": {"amount": 5000, "applicant": {"country": "DE"}}}
    first = api.post("/v2/decision-definitions/evaluation", body, format="json", **headers).json()
    assert [d["decisionDefinitionId"] for d in first["evaluatedDecisions"]] == ["band", "risk"]
    assert first["output"] == '{"level":"medium","reason":"large amount"}'
    # The same Idempotency-Key and body: the first answer again, nothing recorded twice.
    again = api.post("/v2/decision-definitions/evaluation", body, format="json", **headers).json()
    assert again == first and DecisionInstance.objects.count() == 2
    band = first["evaluatedDecisions"][0]["decisionEvaluationInstanceKey"]
    found = api.post("/v2/decision-instances/search", {"filter": {"decisionEvaluationInstanceKey": band}},
                     format="json").json()["items"]
    assert [(i["decisionDefinitionId"], i["rootDecisionDefinitionKey"]) for i in found] == [
        ("band", first["decisionDefinitionKey"])]
    by_evaluation = api.post("/v2/decision-instances/search", {
        "filter": {"decisionEvaluationKey": first["decisionEvaluationKey"]},
        "sort": [{"field": "decisionEvaluationInstanceKey", "order": "DESC"}]}, format="json").json()["items"]
    assert [i["decisionDefinitionId"] for i in by_evaluation] == ["risk", "band"]
