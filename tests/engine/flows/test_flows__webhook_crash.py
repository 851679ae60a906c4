"""Crash safety: kill -9 an engine worker while webhook-started runs are in flight; every acknowledged
delivery still gets exactly one run, and every run finishes once another worker is up."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest

from engine.models import ProcessInstance, WebhookDelivery
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FLOW = {
    "id": "crashy",
    "nodes": [
        {"id": "a", "kind": "transform", "set": {"x": "n * 2"}},
        {"id": "b", "kind": "transform", "set": {"y": "x + 1"}},
        {"id": "pause", "kind": "delay", "duration": "PT1S"},
        {"id": "c", "kind": "transform", "set": {"done": "true"}},
    ],
    "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "pause"}, {"from": "pause", "to": "c"}],
    "triggers": [{"id": "in", "kind": "webhook"}],
}


def test_kill_9_mid_flight_loses_no_acknowledged_delivery(live_server, creds, start_worker):
    api = httpx.Client(base_url=live_server.url, auth=(creds.client_id, creds.secret), timeout=10)
    assert api.post("/api/flows/", json=FLOW).status_code == 201
    hook = api.get("/api/flows/crashy/triggers").json()["items"][0]
    first = start_worker()
    acknowledged = []
    for n in range(40):
        body = json.dumps({"n": n}).encode()
        stamp = str(int(time.time()))
        sig = hmac.new(hook["secret"].encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-FlowSync-Timestamp": stamp,
                   "X-FlowSync-Signature": f"sha256={sig}", "X-FlowSync-Delivery": f"d{n}"}
        resp = httpx.post(hook["url"], content=body, headers=headers)
        assert resp.status_code == 202, resp.text
        acknowledged.append(resp.json()["executionId"])
        if n == 20:
            first.kill()  # kill -9 while runs are being applied and timers are waiting
    # Replays after the crash start nothing new.
    body = json.dumps({"n": 0}).encode()
    stamp = str(int(time.time()))
    sig = hmac.new(hook["secret"].encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    again = httpx.post(hook["url"], content=body, headers={
        "Content-Type": "application/json", "X-FlowSync-Timestamp": stamp, "X-FlowSync-Signature": f"sha256={sig}",
        "X-FlowSync-Delivery": "d0"})
    assert again.status_code == 200 and again.json()["executionId"] == acknowledged[0]
    start_worker()
    wait_for(lambda: ProcessInstance.objects.filter(state="COMPLETED").count() == 40, timeout=60)
    assert sorted(map(str, ProcessInstance.objects.values_list("key", flat=True))) == sorted(acknowledged)
    assert WebhookDelivery.objects.filter(outcome="started").count() == 40
    for key in acknowledged[::7]:
        execution = api.get(f"/api/flows/executions/{key}").json()
        assert execution["status"] == "succeeded"
        steps = api.get(f"/api/flows/executions/{key}/steps").json()["items"]
        assert [s["status"] for s in steps] == ["succeeded"] * 4
