"""Log lines: one JSON object per line off a terminal, with the request, tenant, instance and
command they belong to; never a secret or a variable value."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from engine.models import Command
from engine.runtime import processors
from engine.runtime.loop import drain
from flowsync import logs
from tests.conftest import deploy_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The production console handler's formatter and filter, writing to a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.ContextFilter())
    watched = [logging.getLogger(name) for name in ("django.request", "flowsync.engine", "flowsync.access")]
    for logger in watched:
        logger.addHandler(handler)
    yield stream
    for logger in watched:
        logger.removeHandler(handler)


def parsed(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_the_settings_choose_json_off_a_terminal_and_text_when_asked():
    assert logs.use_json("json") and not logs.use_json("text")
    assert logs.config("auto", "INFO")["handlers"]["console"]["formatter"] == "json"  # pytest's stderr is no tty
    assert logs.config("text", "INFO")["handlers"]["console"]["formatter"] == "text"


def test_a_request_line_names_the_request_and_the_tenant_but_not_the_credentials(api, creds, json_lines):
    resp = api.get("/v2/process-instances/123", HTTP_X_REQUEST_ID="req-42")
    assert resp.status_code == 404 and resp["X-Request-Id"] == "req-42"
    lines = parsed(json_lines)
    line = next(x for x in lines if x["logger"] == "django.request")
    assert line["level"] == "WARNING" and "/v2/process-instances/123" in line["message"]
    assert line["request_id"] == "req-42" and line["tenant"] == "<default>"
    assert creds.secret not in json_lines.getvalue() and creds.client_id not in json_lines.getvalue()


def test_every_request_has_one_access_line_without_its_query_string(api, json_lines):
    resp = api.get("/v2/process-instances/123?token=sekrit", HTTP_X_REQUEST_ID="req-43")
    assert resp.status_code == 404
    (line,) = [x for x in parsed(json_lines) if x["logger"] == "flowsync.access"]
    assert line["message"].startswith("GET /v2/process-instances/123 404 ")
    assert line["request_id"] == "req-43" and line["tenant"] == "<default>" and line["status"] == "404"
    assert line["route"] == "v2/process-instances/<str:key>" and float(line["duration_ms"]) >= 0
    assert "sekrit" not in json_lines.getvalue()


def test_an_unsafe_request_id_is_replaced(api):
    resp = api.get("/v2/process-instances/123", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert resp["X-Request-Id"] != "bad id\nwith newline" and len(resp["X-Request-Id"]) == 32


def test_an_engine_failure_names_instance_and_command_not_variable_values(api, json_lines, monkeypatch):
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    key = api.post("/v2/process-instances", {"processDefinitionId": "order-process",
                                             "variables": {"password": "hunter2"}},
                   format="json").json()["processInstanceKey"]

    def broken(run, payload):  # an engine bug
        raise RuntimeError("boom")

    monkeypatch.setitem(processors.PROCESSORS, "CREATE_INSTANCE", broken)
    drain()
    command = Command.objects.get(process_instance_key=int(key))
    assert command.state == "FAILED"
    line = next(x for x in parsed(json_lines) if x["logger"] == "flowsync.engine")
    assert line["level"] == "ERROR" and "RuntimeError: boom" in line["exception"]
    assert line["process_instance_key"] == key and line["command_key"] == str(command.id)
    assert "hunter2" not in json_lines.getvalue()


def test_text_lines_append_the_context():
    record = logging.LogRecord("flowsync.engine", logging.INFO, __file__, 1, "applied %d", (3,), None)
    with logs.bound(request_id="r1", tenant="acme"):
        logs.ContextFilter().filter(record)
    assert logs.TextFormatter().format(record).endswith("flowsync.engine applied 3 [request_id=r1 tenant=acme]")
