"""Flow validation over the API: one test per rule, each error located by a JSON Pointer."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from jsonschema import Draft202012Validator

from engine.models import ProcessDefinition
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db


def _node(nid, kind="transform", **options):
    if kind == "transform" and "set" not in options:
        options["set"] = {"v": "1"}
    return {"id": nid, "kind": kind, **options}


def _validate(api, doc):
    return api.post("/api/flows/validate", json.dumps(doc), content_type="application/json")


def _problems(api, doc) -> list[dict]:
    body = assert_problem(_validate(api, doc), 400)
    assert not ProcessDefinition.objects.exists()
    return body["problems"]


def test_the_schema_is_published_and_is_valid_draft_2020_12(client):
    resp = client.get("/api/flows/schema")
    assert resp.status_code == 200
    schema = resp.json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    # Its own example is a valid flow.
    assert not list(Draft202012Validator(schema).iter_errors(schema["examples"][0]))


def test_a_valid_flow_validates_without_being_stored(api):
    resp = _validate(api, {"id": "ok", "nodes": [_node("a"), _node("b")], "edges": [{"from": "a", "to": "b"}]})
    assert resp.status_code == 200 and resp.json() == {"valid": True, "id": "ok"}
    assert not ProcessDefinition.objects.exists()


def test_cycle_is_reported_with_its_node_path(api):
    problems = _problems(api, {"id": "f", "nodes": [_node("a"), _node("b"), _node("c"), _node("d")], "edges": [
        {"from": "d", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "a"}]})
    assert problems == [{"pointer": "/edges/3", "message": "cycle: a → b → c → a"}]


def test_unknown_node_reference(api):
    problems = _problems(api, {"id": "f", "nodes": [_node("a")], "edges": [{"from": "a", "to": "nope"}]})
    assert problems == [{"pointer": "/edges/0/to", "message": "unknown node 'nope'"}]


def test_duplicate_ids(api):
    problems = _problems(api, {"id": "f", "nodes": [_node("a"), _node("a")]})
    assert problems == [{"pointer": "/nodes/1/id", "message": "duplicate node id 'a' (first at /nodes/0)"}]


def test_unreachable_node(api):
    problems = _problems(api, {"id": "f", "start": "a", "nodes": [_node("a"), _node("b"), _node("lost")],
                               "edges": [{"from": "a", "to": "b"}]})
    assert problems == [{"pointer": "/nodes/2", "message": "node 'lost' is unreachable from the start (a)"}]


def test_bad_expression_with_its_column(api):
    problems = _problems(api, {"id": "f", "nodes": [_node("a", set={"x": "=1 +* 2"})]})
    assert len(problems) == 1 and problems[0]["pointer"] == "/nodes/0/set/x"
    assert "column" in problems[0]["message"] and "=1 +* 2" in problems[0]["message"]


def test_unknown_option(api):
    problems = _problems(api, {"id": "f", "nodes": [_node("a", "http", url="https://x.test", retries=3)]})
    assert problems == [{"pointer": "/nodes/0/retries", "message": "unknown option 'retries' for a http node"}]


def test_condition_without_both_branches(api):
    problems = _problems(api, {"id": "f", "nodes": [_node("c", "condition", expression="x > 1"), _node("a")],
                               "edges": [{"from": "c", "to": "a", "branch": "true"}]})
    assert problems == [{"pointer": "/nodes/0", "message": "condition 'c' needs both branches; no edge for false"}]


def test_node_that_can_never_run_because_of_its_join_rule(api):
    problems = _problems(api, {"id": "f", "nodes": [
        _node("c", "condition", expression="x > 1"), _node("yes"), _node("no"), _node("both")], "edges": [
        {"from": "c", "to": "yes", "branch": "true"}, {"from": "c", "to": "no", "branch": "false"},
        {"from": "yes", "to": "both"}, {"from": "no", "to": "both"}]})
    assert [p["pointer"] for p in problems] == ["/nodes/3/join"]
    assert "can never run" in problems[0]["message"]


def test_inputs_must_be_a_json_schema(api):
    problems = _problems(api, {"id": "f", "inputs": {"type": 5}, "nodes": [_node("a")]})
    assert [p["pointer"] for p in problems] == ["/inputs/type"]


def test_missing_required_option_and_wrong_type(api):
    problems = _problems(api, {"id": "f", "nodes": [{"id": "a", "kind": "http"},
                                                    _node("b", "job", type="t", retry={"max_attempts": "3"})]})
    pointers = {p["pointer"] for p in problems}
    assert "/nodes/0" in pointers  # url is required
    assert any(p.startswith("/nodes/1") for p in pointers)


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'{"id": 5}', b'{"id": "x", "nodes": "no"}',
                                  b'{"id": "x", "nodes": [{"kind": 7}]}', b"\xff\xfe"])
def test_garbage_never_500s(api, body):
    resp = api.post("/api/flows/validate", body, content_type="application/json")
    assert_problem(resp, 400)
    resp = api.post("/api/flows/", body, content_type="application/json")
    assert resp.status_code == 400, resp.content


def test_deploy_through_v2_deployments_beside_bpmn_versions_and_dedupes(api):
    doc = {"id": "beside", "nodes": [_node("a")]}

    def send(d):
        return api.post("/v2/deployments", {"resources": [SimpleUploadedFile(
            "beside.flow.json", json.dumps(d).encode())]}, format="multipart")

    first = send(doc)
    assert first.status_code == 200, first.content
    assert first.json()["deployments"][0]["processDefinition"]["processDefinitionVersion"] == 1
    again = send(doc).json()["deployments"][0]["processDefinition"]
    assert again["processDefinitionVersion"] == 1  # same content: same version
    doc["nodes"].append(_node("b"))
    assert send(doc).json()["deployments"][0]["processDefinition"]["processDefinitionVersion"] == 2
    bad = send({"id": "beside", "nodes": [_node("a"), _node("a")]})
    body = assert_problem(bad, 400)
    assert body["problems"] == [{"pointer": "/nodes/1/id", "message": "duplicate node id 'a' (first at /nodes/0)"}]
    versions = api.get("/api/flows/beside/versions").json()["items"]
    assert [v["version"] for v in versions] == [2, 1]


def test_a_flow_definition_answers_its_xml_as_generated_bpmn(api):
    resp = api.post("/v2/deployments", {"resources": [SimpleUploadedFile(
        "x.flow.json", json.dumps({"id": "xml_flow", "nodes": [_node("a")]}).encode())]}, format="multipart")
    key = resp.json()["deployments"][0]["processDefinition"]["processDefinitionKey"]
    xml = api.get(f"/v2/process-definitions/{key}/xml")
    assert xml.status_code == 200 and b'<bpmn:process id="xml_flow"' in xml.content
