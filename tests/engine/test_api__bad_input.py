"""Every bad input gets a 4xx problem+json with what was wrong and where, and writes nothing."""

from __future__ import annotations

import pytest

from engine.models import Command, Deployment, Job, ProcessDefinition, ProcessInstance
from engine.runtime.loop import drain
from tests.conftest import bpmn_file, deploy_file

pytestmark = pytest.mark.django_db

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance"}


def assert_problem(resp, status: int) -> dict:
    assert resp.status_code == status, resp.content
    assert resp["Content-Type"].startswith("application/problem+json")
    body = resp.json()
    assert PROBLEM_FIELDS <= set(body) and body["status"] == status
    return body


def nothing_written() -> bool:
    return not (
        Deployment.objects.exists()
        or ProcessDefinition.objects.exists()
        or ProcessInstance.objects.exists()
        or Command.objects.exists()
    )


def test_malformed_xml_names_the_line(api):
    body = assert_problem(
        deploy_file(api, "broken.bpmn", b'<definitions xmlns="x">\n<a>\n<oops></a>\n</definitions>'), 400
    )
    assert "malformed XML" in body["detail"]
    assert body["problems"][0]["line"] == 3
    assert nothing_written()


def test_no_executable_process(api):
    content = bpmn_file("hello-service-task.bpmn").replace(b'isExecutable="true"', b'isExecutable="false"')
    body = assert_problem(deploy_file(api, "x.bpmn", content), 400)
    assert "no executable process" in body["detail"]
    assert nothing_written()


def test_unsupported_element_is_listed_with_id_kind_and_line(api):
    content = bpmn_file("hello-service-task.bpmn").replace(
        b'<bpmn:endEvent id="EndEvent_Order"',
        b'<bpmn:complexGateway id="Gw_Complex" />\n<bpmn:endEvent id="EndEvent_Order"',
    )
    body = assert_problem(deploy_file(api, "x.bpmn", content), 400)
    problem = next(p for p in body["problems"] if p["elementId"] == "Gw_Complex")
    assert problem["elementKind"] == "complexGateway" and problem["line"] > 1
    assert "not supported" in problem["message"]
    assert nothing_written()


def test_service_task_without_job_type(api):
    content = bpmn_file("hello-service-task.bpmn").replace(b'<zeebe:taskDefinition type="payment" retries="3" />', b"")
    body = assert_problem(deploy_file(api, "x.bpmn", content), 400)
    assert body["problems"][0]["elementId"] == "Task_Pay"
    assert nothing_written()


def test_entities_and_doctype_are_refused(api):
    evil = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n'
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&b;</bpmn:definitions>'
    )
    assert_problem(deploy_file(api, "evil.bpmn", evil), 400)
    external = (
        b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&e;</bpmn:definitions>'
    )
    body = assert_problem(deploy_file(api, "xxe.bpmn", external), 400)
    assert "root:" not in body["detail"]
    assert nothing_written()


def test_oversized_resource(api, settings):
    settings.BPMN_MAX_BYTES = 1000
    body = assert_problem(deploy_file(api, "big.bpmn", bpmn_file("hello-service-task.bpmn")), 400)
    assert "limit" in body["detail"]


def test_deploy_without_resources(api):
    assert_problem(api.post("/v2/deployments", {}, format="multipart"), 400)


def test_unknown_process_id(api):
    body = assert_problem(api.post("/v2/process-instances", {"processDefinitionId": "nope"}, format="json"), 404)
    assert "nope" in body["detail"]
    assert not Command.objects.exists()


def test_bad_json_and_bad_variables(api):
    deploy_file(api, "hello-service-task.bpmn")
    resp = api.generic("POST", "/v2/process-instances", "{not json", content_type="application/json")
    assert_problem(resp, 400)
    body = assert_problem(
        api.post("/v2/process-instances", {"processDefinitionId": "order-process", "variables": [1, 2]}, format="json"),
        400,
    )
    assert "variables" in body["detail"]
    assert_problem(api.post("/v2/process-instances", [1], format="json"), 400)
    assert not ProcessInstance.objects.exists() and not Command.objects.exists()


def test_unknown_and_malformed_job_keys(api):
    assert_problem(api.post("/v2/jobs/12345/completion", {}, format="json"), 404)
    assert_problem(api.post("/v2/jobs/abc/completion", {}, format="json"), 400)
    assert_problem(api.get("/v2/process-instances/999"), 404)


def test_completing_a_job_twice_conflicts(api):
    deploy_file(api, "hello-service-task.bpmn")
    api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json")
    drain()
    job = Job.objects.get()
    assert api.post(f"/v2/jobs/{job.key}/completion", format="json").status_code == 204
    assert_problem(api.post(f"/v2/jobs/{job.key}/completion", format="json"), 409)
    assert Command.objects.filter(kind="COMPLETE_JOB").count() == 1


def test_wrong_api_key(client, creds):
    import base64

    bad = "Basic " + base64.b64encode(f"{creds.client_id}:wrong".encode()).decode()
    assert_problem(client.get("/v2/topology", HTTP_AUTHORIZATION=bad), 401)
    assert_problem(client.get("/v2/topology"), 401)
    assert_problem(client.get("/v2/topology", HTTP_AUTHORIZATION="Basic %%%"), 401)


def test_unknown_api_path_is_a_problem_not_html(api):
    assert_problem(api.get("/v2/no-such-thing"), 404)
