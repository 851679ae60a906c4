"""schemathesis against the served OpenAPI document and a live server: no 500s, and every answer
(status, content type, body) is one the document describes."""

from __future__ import annotations

import json

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from engine.runtime.loop import drain
from tests.api.conftest import api_bpmn, complete_jobs, start
from tests.conftest import deploy_file

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]



@schemathesis.check
def no_internal_error(ctx, response, case):  # type: ignore[no-untyped-def]
    """Never a 500. (501 NOT_AVAILABLE_YET and 503/504 are documented answers, checked by the conformance checks.)"""
    if response.status_code == 500:
        raise AssertionError(f"500 for {case.method} {case.formatted_path}: {response.text[:500]}")


CHECKS = [no_internal_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 20


@pytest.fixture
def seeded(api, settings):  # type: ignore[no-untyped-def]
    """Rows in every family, so searches answer with real items; waits capped so fuzzing stays fast."""
    settings.FLOWSYNC_LONG_POLL_MAX_MS = 50
    settings.FLOWSYNC_AWAIT_MAX_MS = 50
    deploy_file(api, "hello-service-task.bpmn")
    deploy_file(api, "order-flow.bpmn", api_bpmn("order-flow.bpmn"))
    for i in range(3):
        start(api, variables={"orderId": f"A-{i}", "nested": {"n": i}}, businessId=f"bk-{i}")
    start(api, "order-flow", variables={"orderId": "R-1"})
    drain()
    complete_jobs(api, "charge")


def test_the_document_is_served_and_valid(client):
    from drf_spectacular.validation import validate_schema

    resp = client.get("/api/schema/?format=json")
    assert resp.status_code == 200
    doc = json.loads(resp.content)
    validate_schema(doc)
    assert "/v2/process-instances/search" in doc["paths"] and "basicAuth" in doc["components"]["securitySchemes"]
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_server, creds, seeded, mode):
    doc = httpx.get(f"{live_server.url}/api/schema/?format=json").json()
    schema = schemathesis.openapi.from_dict(doc)
    headers = {"Authorization": creds.header}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):  # type: ignore[no-untyped-def]
            case.call_and_validate(base_url=live_server.url, headers=headers, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            continue  # nothing to make invalid (e.g. GET /v2/status has no inputs)
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report all
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
