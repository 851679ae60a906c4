"""Camunda's REST connector (io.camunda:http-json:1) from a file as Camunda Modeler writes it, run in-process."""

from __future__ import annotations

import pytest

from engine.bpmn.parser import parse_bpmn
from tests.engine.connectors.conftest import BPMN

pytestmark = pytest.mark.django_db


def test_the_modeler_file_deploys_with_its_template_attributes_and_static_inputs():
    [graph] = parse_bpmn((BPMN / "camunda-rest.bpmn").read_bytes(), "camunda-rest.bpmn")
    task = graph.elements["FetchOrder"]
    assert task.props["jobType"] == "io.camunda:http-json:1"
    inputs = {m["target"]: m["source"] for m in task.props["inputs"]}
    # Camunda 8: an input source without "=" is a static string, not a variable reference.
    assert inputs["method"] == "GET" and inputs["authentication.type"] == "bearer"
    assert inputs["connectionTimeoutInSeconds"] == "20"
    assert inputs["url"].startswith("=baseUrl")
    assert task.props["headers"]["resultVariable"] == "orderResponse"


def test_2xx_sets_the_result_variable_and_the_result_expression(engine, http_server, allow_local):
    engine.deploy("camunda-rest.bpmn")
    key = engine.start("rest-order", baseUrl=http_server.url, orderId="A-17", apiToken="s3cret")
    assert engine.run_connectors() == 1
    assert engine.state(key) == "COMPLETED"
    assert "Fetched" in engine.completed(key)
    variables = engine.variables(key)
    assert variables["orderStatus"] == "shipped" and variables["httpStatus"] == 200
    response = variables["orderResponse"]
    assert response["status"] == 200
    assert response["body"] == {"id": "A-17", "status": "shipped", "items": [1, 2]}
    assert response["headers"]["content-type"] == "application/json"
    # The inputs stay local to the task: nothing of the request leaks into the instance.
    assert not {"url", "method", "headers", "authentication"} & set(variables)
    [seen] = http_server.seen
    assert (seen.method, seen.path, seen.query) == ("GET", "/orders/A-17", {"verbose": ["yes"]})
    assert seen.headers["x-trace"] == "A-17" and seen.headers["authorization"] == "Bearer s3cret"
    job = engine.job(key)
    assert job.state == "COMPLETED" and job.worker == "flowsync-connector"


def test_500_is_retried_then_raises_a_job_no_retries_incident(engine, http_server, allow_local):
    engine.deploy("camunda-rest.bpmn")
    key = engine.start("rest-order", baseUrl=http_server.url + "/status/500#", orderId="x", apiToken="t")
    # retryBackoff PT0S (the template's default): the three attempts follow one another.
    assert engine.run_connectors() == 3
    assert len(http_server.seen) == 3 and http_server.paths()[0] == "/status/500"
    job = engine.job(key)
    assert (job.state, job.retries, job.failures) == ("FAILED", 0, 3)
    incident = engine.incident(key)
    assert incident.error_type == "JOB_NO_RETRIES" and incident.element_id == "FetchOrder"
    assert "HTTP 500 Internal Server Error from GET http://127.0.0.1" in incident.error_message
    assert "boom: something broke" in incident.error_message
    assert engine.state(key) == "ACTIVE"


def test_a_failure_without_retry_backoff_waits_for_the_default_backoff(engine, http_server, allow_local, settings):
    from datetime import timedelta

    settings.JOB_BACKOFF_DEFAULT = {"base_ms": 10_000, "cap_ms": 60_000, "jitter": 0.0}
    engine.deploy("flowsync-connectors.bpmn")
    key = engine.start("http-call", url=http_server.url + "/status/503")
    assert engine.run_connectors() == 1
    job = engine.job(key)
    assert (job.state, job.retries) == ("ACTIVATABLE", 1)
    assert job.backoff_until == engine.now + timedelta(seconds=10)
    assert "HTTP 503" in job.error_message
    assert engine.run_connectors() == 0  # still backing off
    engine.now += timedelta(seconds=11)
    assert engine.run_connectors() == 1
    assert engine.incident(key).error_type == "JOB_NO_RETRIES"


def test_404_becomes_the_bpmn_error_of_the_error_expression(engine, http_server, allow_local):
    engine.deploy("camunda-rest.bpmn")
    key = engine.start("rest-order", baseUrl=http_server.url, orderId="missing", apiToken="t")
    assert engine.run_connectors() == 1
    assert engine.state(key) == "COMPLETED"
    assert "Missing" in engine.completed(key) and "Fetched" not in engine.completed(key)
    assert engine.job(key).state == "ERROR_THROWN"
    message = engine.job(key).error_message
    assert message.startswith("no such order: HTTP 404 Not Found from GET http://127.0.0.1:")
    assert engine.variables(key)["lookup"] == {"error": "no such order"}


def test_the_whole_response_is_kept_within_the_size_cap(engine, http_server, allow_local):
    engine.deploy("flowsync-connectors.bpmn")
    key = engine.start("http-call", url=http_server.url + "/big")
    engine.run_connectors()
    incident = engine.incident(key)
    assert "larger than the limit of 1048576 bytes" in incident.error_message
    assert len(http_server.seen) == 1  # not retried: the answer would be as large again


def test_a_timeout_fails_the_job_with_retries(engine, http_server, allow_local):
    engine.deploy("flowsync-connectors.bpmn")
    key = engine.start("http-call", url=http_server.url + "/slow/5", timeout=0.3)
    assert engine.run_connectors() == 1
    job = engine.job(key)
    assert job.state == "ACTIVATABLE" and job.retries == 1
    assert "timed out" in job.error_message and "/slow/5" in job.error_message


def test_flowsync_http_posts_json_and_keeps_the_response(engine, http_server, allow_local):
    engine.deploy("flowsync-connectors.bpmn")
    key = engine.start("http-call", method="POST", url=http_server.url + "/echo",
                       payload={"order": "A-1", "lines": [1, 2]})
    engine.run_connectors()
    assert engine.state(key) == "COMPLETED"
    response = engine.variables(key)["response"]
    assert response["status"] == 201 and response["body"] == {"order": "A-1", "lines": [1, 2]}
    assert response["headers"]["x-echo"] == "yes"
    [seen] = http_server.seen
    assert seen.headers["content-type"] == "application/json"


def test_text_responses_stay_text_and_redirects_are_followed(engine, http_server, allow_local):
    engine.deploy("flowsync-connectors.bpmn")
    key = engine.start("http-call", url=http_server.url + "/redirect/text")
    engine.run_connectors()
    assert engine.variables(key)["response"]["body"] == "grüße"
    assert http_server.paths() == ["/redirect/text", "/text"]


def test_bad_input_fails_for_good_with_a_clear_message(engine, allow_local):
    engine.deploy("flowsync-connectors.bpmn")
    key = engine.start("http-call", method="BREW", url="http://127.0.0.1:9/")
    engine.run_connectors()
    incident = engine.incident(key)
    assert "unsupported HTTP method 'BREW'" in incident.error_message
    assert engine.job(key).failures == 1
