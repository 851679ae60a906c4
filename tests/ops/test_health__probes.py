"""/healthz and /readyz: unauthenticated JSON, 200 when fine, 503 naming the failing check, never 500."""

from __future__ import annotations

import pytest
from django.test import Client

from engine.api.base import backlog
from tests.conftest import deploy_file

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_credentials_or_database_work(django_assert_num_queries):
    with django_assert_num_queries(0):
        resp = Client().get("/healthz")
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/json"
    assert resp.json()["status"] == "ok"
    assert resp["X-Request-Id"]


def test_readyz_is_ready_when_database_redis_migrations_and_backlog_are_fine(creds):
    resp = Client().get("/readyz")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True, "redis": True, "migrations": True, "backlog": True,
    }


def test_readyz_is_unavailable_above_the_backpressure_threshold(api, settings):
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    for _ in range(3):  # no engine runs in this test: the commands stay pending
        resp = api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json")
        assert resp.status_code == 200
    settings.FLOWSYNC_BACKPRESSURE_PENDING_COMMANDS = 2
    resp = Client().get("/readyz")
    assert resp.status_code == 503
    check = resp.json()["checks"]["backlog"]
    assert check == {"ok": False, "pending": 3, "limit": 2, "oldestAgeSeconds": check["oldestAgeSeconds"]}
    assert check["oldestAgeSeconds"] >= 0
    settings.FLOWSYNC_BACKPRESSURE_PENDING_COMMANDS = 3
    assert Client().get("/readyz").status_code == 200
    backlog.reset()


def test_readyz_is_unavailable_when_redis_is_unreachable_and_says_so_without_details(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    resp = Client().get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["checks"]["redis"] == {"ok": False, "error": "ConnectionError"}
    assert resp.json()["checks"]["database"]["ok"] is True


def test_probes_refuse_other_methods_without_a_500():
    assert Client().post("/readyz").status_code == 405
    assert Client().post("/healthz").status_code == 405
