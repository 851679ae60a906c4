"""Idempotency-Key: the same key and body within 24 h answers the first response and creates nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from engine.models import Command, Deployment, ProcessDefinition, ProcessInstance
from flowsync.models import IdempotentResponse
from tests.api.conftest import assert_problem
from tests.conftest import bpmn_file, deploy_file

pytestmark = pytest.mark.django_db


def _create(api, key: str, **body):  # type: ignore[no-untyped-def]
    return api.post("/v2/process-instances", {"processDefinitionId": "order-process", **body}, format="json",
                    HTTP_IDEMPOTENCY_KEY=key)


def test_same_key_same_body_replays_and_creates_nothing(api):
    deploy_file(api, "hello-service-task.bpmn")
    first = _create(api, "k-1", variables={"a": 1})
    second = _create(api, "k-1", variables={"a": 1})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() and second["Idempotent-Replayed"] == "true"
    assert ProcessInstance.objects.count() == 1 and Command.objects.count() == 1
    # Key order in the body does not matter; another key creates another instance.
    assert api.post("/v2/process-instances", {"variables": {"a": 1}, "processDefinitionId": "order-process"},
                    format="json", HTTP_IDEMPOTENCY_KEY="k-1").json() == first.json()
    assert _create(api, "k-2", variables={"a": 1}).json() != first.json()
    assert ProcessInstance.objects.count() == 2


def test_same_key_other_body_is_422(api):
    deploy_file(api, "hello-service-task.bpmn")
    _create(api, "k-1", variables={"a": 1})
    body = assert_problem(_create(api, "k-1", variables={"a": 2}), 422)
    assert body["title"] == "IDEMPOTENCY_KEY_REUSED"
    # Another endpoint with the same key is another request too.
    upload = SimpleUploadedFile("x.bpmn", bpmn_file("hello-service-task.bpmn"))
    assert_problem(api.post("/v2/deployments", {"resources": [upload]}, format="multipart",
                            HTTP_IDEMPOTENCY_KEY="k-1"), 422)
    assert ProcessInstance.objects.count() == 1


def test_failed_requests_are_not_kept(api):
    assert_problem(_create(api, "k-1"), 404)
    deploy_file(api, "hello-service-task.bpmn")
    assert _create(api, "k-1").status_code == 200
    assert ProcessInstance.objects.count() == 1


def test_keys_expire_after_24_hours(api):
    deploy_file(api, "hello-service-task.bpmn")
    _create(api, "k-1")
    IdempotentResponse.objects.update(created_at=IdempotentResponse.objects.get().created_at - timedelta(hours=25))
    assert _create(api, "k-1").status_code == 200 and ProcessInstance.objects.count() == 2


def test_multipart_deployment_is_idempotent(api):
    def deploy(content: bytes):  # type: ignore[no-untyped-def]
        upload = SimpleUploadedFile("order.bpmn", content, content_type="application/octet-stream")
        return api.post("/v2/deployments", {"resources": [upload]}, format="multipart", HTTP_IDEMPOTENCY_KEY="d-1")

    content = bpmn_file("hello-service-task.bpmn")
    first, again = deploy(content), deploy(content)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert Deployment.objects.count() == 1
    assert_problem(deploy(content.replace(b'name="Order"', b'name="Other"')), 422)
    assert ProcessDefinition.objects.count() == 1


def test_keys_are_per_tenant(api, other_api):
    deploy_file(api, "hello-service-task.bpmn")
    deploy_file(other_api, "hello-service-task.bpmn")
    a, b = _create(api, "same"), _create(other_api, "same")
    assert a.json()["processInstanceKey"] != b.json()["processInstanceKey"]
    assert b.json()["tenantId"] == "tenant-b"


def test_bad_keys(api):
    deploy_file(api, "hello-service-task.bpmn")
    assert_problem(_create(api, "x" * 256), 400)


@pytest.mark.parametrize("path,body", [
    ("/v2/messages/publication", {"name": "paid", "correlationKey": "A-1", "timeToLive": 60_000}),
    ("/v2/messages/publication", {"name": "paid", "correlationKey": "A-1", "timeToLive": 60_000, "messageId": "m1"}),
    ("/v2/signals/broadcast", {"signalName": "go"}),
])
def test_messages_and_signals_are_idempotent(api, path, body):
    from engine.models import Message

    first = api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="m-key")
    again = api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="m-key")
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    if "messages" in path:
        assert Message.objects.count() == 1
    assert_problem(api.post(path, {**body, "variables": {"x": 1}}, format="json", HTTP_IDEMPOTENCY_KEY="m-key"), 422)
