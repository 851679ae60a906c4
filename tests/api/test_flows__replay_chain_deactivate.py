"""Over real HTTP against a live server: replaying a kept webhook delivery, step logs in the steps API,
a flow chained on another's end, and a deactivated flow (its webhook answers 410, nothing starts)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest

from engine.models import ProcessInstance, WebhookDelivery
from flowsync.models import AuditEntry
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

FLOW = {
    "id": "intake",
    "inputs": {"type": "object", "required": ["order"]},
    "nodes": [{"id": "note", "kind": "transform", "set": {"seen": "order"}}],
    "triggers": [{"id": "signed", "kind": "webhook", "auth": "hmac"}],
}


def _signed(secret: str, body: bytes, **extra: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-FlowSync-Timestamp": stamp, "X-FlowSync-Signature": f"sha256={digest}",
            "Content-Type": "application/json", **extra}


@pytest.fixture
def api(live_server, creds):
    return httpx.Client(base_url=live_server.url, auth=(creds.client_id, creds.secret), timeout=15)


def test_a_kept_delivery_is_replayed_as_a_new_run_with_auth_headers_masked(api):
    assert api.post("/api/flows/", json=FLOW).status_code == 201
    hook = api.get("/api/flows/intake/triggers").json()["items"][0]
    body = json.dumps({"order": "A-7"}).encode()
    sent = httpx.post(hook["url"], content=body, headers=_signed(hook["secret"], body, **{
        "X-FlowSync-Delivery": "d-7", "X-Api-Token": "tok-123", "X-Trace": "trace-1"}))
    assert sent.status_code == 202
    [delivery] = api.get("/api/flows/intake/triggers").json()["deliveries"]
    assert delivery["kept"] is True
    headers = delivery["headers"]
    assert headers["x-flowsync-signature"] == "***" and headers["x-api-token"] == "***"
    assert headers["x-trace"] == "trace-1"
    replay = api.post(f"/api/flows/deliveries/{delivery['id']}/replay")
    assert replay.status_code == 201, replay.text
    run_id = replay.json()["executionId"]
    assert run_id != sent.json()["executionId"]
    execution = api.get(f"/api/flows/executions/{run_id}").json()
    assert execution["input"] == {"order": "A-7"}
    assert execution["trigger"]["kind"] == "webhook" and execution["trigger"]["deliveryId"] == "d-7"
    assert execution["trigger"]["replayedBy"]
    assert ProcessInstance.objects.count() == 2
    assert AuditEntry.objects.filter(what="flow.delivery.replay").count() == 1
    outcomes = [d["outcome"] for d in api.get("/api/flows/intake/triggers").json()["deliveries"]]
    assert outcomes == ["replayed", "started"]


def test_a_delivery_over_the_keep_limit_is_recorded_but_cannot_be_replayed(api, settings):
    settings.FLOWSYNC_WEBHOOK_KEEP_BYTES = 100
    assert api.post("/api/flows/", json=FLOW).status_code == 201
    hook = api.get("/api/flows/intake/triggers").json()["items"][0]
    body = json.dumps({"order": "B" * 200}).encode()
    assert httpx.post(hook["url"], content=body, headers=_signed(hook["secret"], body)).status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert delivery.body is None
    refused = api.post(f"/api/flows/deliveries/{delivery.pk}/replay")
    assert refused.status_code == 409 and "not kept" in refused.json()["detail"]
    assert api.post("/api/flows/deliveries/999999/replay").status_code == 404
    assert ProcessInstance.objects.count() == 1


def test_steps_show_what_the_http_node_sent_and_got(api, start_worker, settings):
    settings.CONNECTOR_HTTP_ALLOW = "127.0.0.1"
    flow = {"id": "caller", "nodes": [{"id": "call", "kind": "http", "url": f"{api.base_url}/api/flows/schema",
                                       "headers": {"Authorization": "Bearer very-secret"}}]}
    assert api.post("/api/flows/", json=flow).status_code == 201
    start_worker(FLOWSYNC_CONNECTOR_HTTP_ALLOW="127.0.0.1")
    run_id = api.post("/api/flows/caller/runs", json={}).json()["id"]
    wait_for(lambda: api.get(f"/api/flows/executions/{run_id}").json()["status"] == "succeeded", timeout=30)
    [step] = api.get(f"/api/flows/executions/{run_id}/steps").json()["items"]
    [attempt] = step["attempts"]
    log = "\n".join(attempt["log"])
    assert log.startswith("-> GET http://") and "<- 200" in log and "very-secret" not in log and "***" in log


def test_a_flow_chained_on_another_starts_once_per_completed_run(api, start_worker):
    source = {"id": "first", "nodes": [{"id": "a", "kind": "transform", "set": {"n": "n + 1"}}]}
    follower = {"id": "second", "nodes": [{"id": "b", "kind": "transform", "set": {"m": "n * 10"}}],
                "triggers": [{"id": "after_first", "kind": "event", "after": {"flow": "first"},
                              "filter": "variables.n > 1"}]}
    assert api.post("/api/flows/", json=follower).status_code == 201
    assert api.post("/api/flows/", json=source).status_code == 201
    start_worker()
    runs = [api.post("/api/flows/first/runs", json={"input": {"n": n}}).json()["id"] for n in range(4)]
    wait_for(lambda: len(api.get("/api/flows/second/runs").json()["items"]) == 3
             and all(r["status"] == "succeeded" for r in api.get("/api/flows/second/runs").json()["items"]),
             timeout=30)
    time.sleep(1)
    chained = api.get("/api/flows/second/runs").json()["items"]
    assert len(chained) == 3  # n = 1..3 → n + 1 > 1; n = 0 filtered
    sources = sorted(r["trigger"]["after"]["executionId"] for r in chained)
    assert sources == sorted(runs[1:])
    assert sorted(r["input"]["n"] for r in chained) == [2, 3, 4]


def test_a_deactivated_flow_answers_410_on_its_webhook_and_refuses_runs_until_activated(api):
    assert api.post("/api/flows/", json=FLOW).status_code == 201
    hook = api.get("/api/flows/intake/triggers").json()["items"][0]
    off = api.post("/api/flows/intake/deactivate")
    assert off.status_code == 200 and off.json() == {"id": "intake", "active": False, "versionsChanged": 1}
    assert api.get("/api/flows/intake").json()["active"] is False
    body = json.dumps({"order": "C-1"}).encode()
    gone = httpx.post(hook["url"], content=body, headers=_signed(hook["secret"], body))
    assert gone.status_code == 410 and gone.headers["content-type"].startswith("application/problem+json")
    assert "deactivated" in gone.json()["detail"]
    refused = api.post("/api/flows/intake/runs", json={"input": {"order": "C-2"}})
    assert refused.status_code == 409
    assert ProcessInstance.objects.count() == 0
    assert api.post("/api/flows/intake/activate").status_code == 200
    assert httpx.post(hook["url"], content=body, headers=_signed(hook["secret"], body)).status_code == 202
    assert api.post("/api/flows/nope/deactivate").status_code == 404
    assert api.post("/api/flows/intake/explode").status_code == 404
