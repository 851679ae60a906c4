"""Bad input never reaches the database as a 500: NUL characters, huge numbers, wrong types, wrong media types."""

from __future__ import annotations

import pytest

from tests.api.conftest import assert_problem
from tests.conftest import deploy_file

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path,body",
    [
        ("/v2/process-instances", {"processDefinitionId": "order-process", "variables": {"a": "x\u0000y"}}),
        ("/v2/process-instances", {"processDefinitionId": "order-process", "variables": {"a\u0000": 1}}),
        ("/v2/process-instances", {"processDefinitionId": "order\u0000"}),
        ("/v2/process-instances/search", {"filter": {"processDefinitionId": "a\u0000"}}),
        ("/v2/process-instances/search", {"filter": {"variables": [{"name": "a", "value": '"\\u0000"'}]}}),
        ("/v2/variables/search", {"filter": {"value": {"$like": "\u0000*"}}}),
        ("/v2/messages/publication", {"name": "m", "variables": {"v": "\u0000"}}),
        ("/v2/jobs/activation", {"type": "t\u0000", "timeout": 1, "maxJobsToActivate": 1}),
    ],
)
def test_nul_characters_are_400(api, path, body):
    deploy_file(api, "hello-service-task.bpmn")
    assert_problem(api.post(path, body, format="json"), 400)


def test_numbers_beyond_64_bits_and_deep_nesting(api):
    deploy_file(api, "hello-service-task.bpmn")
    assert api.post("/v2/process-instances", {"processDefinitionId": "order-process",
                                              "variables": {"big": 10**30}}, format="json").status_code == 200
    assert_problem(api.post("/v2/process-instances/search", {"filter": {"processInstanceKey": "9" * 25}},
                            format="json"), 400)
    deep: dict = {}
    node = deep
    for _ in range(2000):
        node["x"] = {}
        node = node["x"]
    resp = api.post("/v2/process-instances", {"processDefinitionId": "order-process", "variables": deep},
                    format="json")
    assert resp.status_code in (200, 400)


def test_wrong_media_types(api):
    assert_problem(api.post("/v2/process-instances", "processDefinitionId=x", content_type="text/plain"), 415)
    assert_problem(api.post("/v2/deployments", {"a": 1}, format="json"), 415)


def test_nul_in_credentials_and_form_fields(client, api, creds):
    import base64

    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import bpmn_file

    header = "Basic " + base64.b64encode(b"fs_\x00x:secret").decode()
    assert_problem(client.get("/v2/topology", HTTP_AUTHORIZATION=header), 401)
    resp = client.post("/oauth/token", {"grant_type": "client_credentials", "client_id": "a\x00", "client_secret": "s"})
    assert resp.status_code in (400, 401)
    upload = SimpleUploadedFile("x.bpmn", bpmn_file("hello-service-task.bpmn"))
    assert_problem(api.post("/v2/deployments", {"resources": [upload], "tenantId": "a\x00"}, format="multipart"), 400)


def test_int64_durations_are_capped_not_a_server_error(api, hello):
    # The API takes int64 milliseconds; a datetime ends in year 9999 (schemathesis found this 500).
    huge = 2**63 - 1
    resp = api.post("/v2/jobs/activation", {"type": "payment", "timeout": huge, "maxJobsToActivate": 1,
                                            "requestTimeout": -1}, format="json")
    assert resp.status_code == 200, resp.content
    (job,) = resp.json()["jobs"]
    assert api.patch(f"/v2/jobs/{job['jobKey']}", {"changeset": {"timeout": huge}},
                     format="json").status_code == 204
    assert api.post(f"/v2/jobs/{job['jobKey']}/failure", {"retries": 1, "retryBackOff": huge},
                    format="json").status_code == 204
    resp = api.post("/v2/messages/publication", {"name": "m", "correlationKey": "k", "timeToLive": huge},
                    format="json")
    assert resp.status_code == 200, resp.content
