"""Concurrent requests with one Idempotency-Key: one creation, one answer for all."""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections
from rest_framework.test import APIClient

from engine.models import ProcessInstance
from tests.conftest import deploy_file

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_same_key_creates_once(api, creds):
    deploy_file(api, "hello-service-task.bpmn")
    answers: list[tuple[int, dict]] = []
    barrier = threading.Barrier(6)

    def send() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=creds.header)
        barrier.wait()
        try:
            resp = client.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json",
                               HTTP_IDEMPOTENCY_KEY="race-1")
            answers.append((resp.status_code, resp.json()))
        finally:
            close_old_connections()

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {status for status, _ in answers} == {200}
    assert len({body["processInstanceKey"] for _, body in answers}) == 1
    assert ProcessInstance.objects.count() == 1
