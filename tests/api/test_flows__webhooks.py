"""Webhook triggers over real HTTP against a live server: signatures, replay, limits, recorded deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time

import httpx
import pytest
from django.test import Client

from engine.models import ProcessInstance, WebhookDelivery
from tests.ops.test_metrics__exposition import promtool_problems, sample

pytestmark = pytest.mark.django_db(transaction=True)

FLOW = {
    "id": "hooked",
    "inputs": {"type": "object", "required": ["order"]},
    "nodes": [{"id": "note", "kind": "transform", "set": {"seen": "order"}}],
    "triggers": [
        {"id": "signed", "kind": "webhook", "auth": "hmac", "tolerance_seconds": 60},
        {"id": "token", "kind": "webhook", "auth": "bearer"},
    ],
}


@pytest.fixture
def hooks(live_server, creds):
    api = httpx.Client(base_url=live_server.url, auth=(creds.client_id, creds.secret), timeout=10)
    assert api.post("/api/flows/", json=FLOW).status_code == 201
    triggers = {t["id"]: t for t in api.get("/api/flows/hooked/triggers").json()["items"]}
    return api, triggers


def _sign(secret: str, body: bytes, stamp: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if stamp is None else stamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-FlowSync-Timestamp": str(stamp), "X-FlowSync-Signature": f"sha256={digest}",
            "Content-Type": "application/json"}


def test_signed_delivery_starts_one_run_and_its_replay_starts_none(hooks, settings):
    settings.FLOWSYNC_METRICS_PUBLIC = True
    before = Client().get("/metrics").content.decode()
    api, triggers = hooks
    hook = triggers["signed"]
    assert hook["url"].startswith("http") and "/api/flows/hooks/" in hook["url"] and len(hook["secret"]) > 30
    body = json.dumps({"order": "A-1"}).encode()
    headers = {**_sign(hook["secret"], body), "X-FlowSync-Delivery": "d-1"}
    first = httpx.post(hook["url"], content=body, headers=headers)
    assert first.status_code == 202, first.text
    run_id = first.json()["executionId"]
    again = httpx.post(hook["url"], content=body, headers=headers)
    assert again.status_code == 200 and again.json() == {"executionId": run_id, "duplicate": True}
    assert ProcessInstance.objects.count() == 1
    execution = api.get(f"/api/flows/executions/{run_id}").json()
    assert execution["input"] == {"order": "A-1"}
    assert execution["trigger"] == {"kind": "webhook", "id": "signed", "deliveryId": "d-1"}
    outcomes = [d["outcome"] for d in api.get("/api/flows/hooked/triggers").json()["deliveries"]]
    assert outcomes == ["duplicate", "started"]
    unsigned = httpx.post(hook["url"], content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    after = Client().get("/metrics").content.decode()
    assert promtool_problems(after) == ""
    for outcome in ("started", "duplicate", "signature_bad"):
        grew = (sample(after, "flowsync_webhook_deliveries_total", tenant="<default>", outcome=outcome)
                - sample(before, "flowsync_webhook_deliveries_total", tenant="<default>", outcome=outcome))
        assert grew == 1, outcome


def test_bad_signature_is_401_and_starts_nothing(hooks):
    _, triggers = hooks
    hook = triggers["signed"]
    body = b'{"order": "A-2"}'
    headers = _sign("not-the-secret", body)
    resp = httpx.post(hook["url"], content=body, headers=headers)
    assert resp.status_code == 401 and resp.headers["content-type"].startswith("application/problem+json")
    tampered = _sign(hook["secret"], body)
    resp = httpx.post(hook["url"], content=b'{"order": "A-3"}', headers=tampered)
    assert resp.status_code == 401
    assert httpx.post(hook["url"], content=body, headers={"Content-Type": "application/json"}).status_code == 401
    assert ProcessInstance.objects.count() == 0
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {"signature_bad"}


def test_stale_timestamp_is_401(hooks):
    _, triggers = hooks
    hook = triggers["signed"]
    body = b'{"order": "A-4"}'
    resp = httpx.post(hook["url"], content=body, headers=_sign(hook["secret"], body, int(time.time()) - 600))
    assert resp.status_code == 401 and "tolerance" in resp.json()["detail"]
    assert ProcessInstance.objects.count() == 0


def test_bearer_trigger_and_form_encoded_body(hooks):
    _, triggers = hooks
    hook = triggers["token"]
    assert httpx.post(hook["url"], data={"order": "F-1"}, headers={"Authorization": "Bearer wrong"}).status_code == 401
    resp = httpx.post(hook["url"], data={"order": "F-1"}, headers={"Authorization": f"Bearer {hook['secret']}"})
    assert resp.status_code == 202, resp.text
    assert ProcessInstance.objects.count() == 1


def test_limits_and_bad_bodies_are_4xx_and_recorded(hooks, settings):
    api, triggers = hooks
    hook = triggers["signed"]
    for body, status in ((b"not json", 422), (b'{"other": 1}', 422), (b"[1]", 422)):
        resp = httpx.post(hook["url"], content=body, headers=_sign(hook["secret"], body))
        assert resp.status_code == status, (body, resp.text)
    big = b'{"order": "' + b"x" * (300 * 1024) + b'"}'
    assert httpx.post(hook["url"], content=big, headers=_sign(hook["secret"], big)).status_code == 413
    assert httpx.post(hook["url"].rsplit("/", 1)[0] + "/unknown-token", content=b"{}").status_code == 404
    assert ProcessInstance.objects.count() == 0
    assert WebhookDelivery.objects.filter(outcome="rejected").count() == 4


def test_rotating_the_secret_refuses_the_old_one(hooks):
    api, triggers = hooks
    hook = triggers["signed"]
    rotated = api.post("/api/flows/hooked/triggers/signed/rotate-secret").json()
    assert rotated["secret"] != hook["secret"] and rotated["url"] == hook["url"]
    body = b'{"order": "R-1"}'
    assert httpx.post(hook["url"], content=body, headers=_sign(hook["secret"], body)).status_code == 401
    assert httpx.post(hook["url"], content=body, headers=_sign(rotated["secret"], body)).status_code == 202
    assert api.post("/api/flows/hooked/triggers/signed/disable").json()["enabled"] is False
    assert httpx.post(hook["url"], content=body, headers=_sign(rotated["secret"], body)).status_code == 404


RESPONDING = {
    "id": "answering",
    "nodes": [{"id": "calc", "kind": "transform", "set": {"total": "qty * 2"}}],
    "output": {"total": "total", "who": "who"},
    "triggers": [{"id": "sync", "kind": "webhook", "auth": "none", "respond": True, "respond_timeout_ms": 30000,
                  "filter": "body.kind == 'order' && headers['x-source'] == 'shop'",
                  "input": {"qty": "body.count", "who": "query.user"}}],
}


def test_filter_input_mapping_and_respond_with_the_output(live_server, creds, start_worker):
    api = httpx.Client(base_url=live_server.url, auth=(creds.client_id, creds.secret), timeout=10)
    assert api.post("/api/flows/", json=RESPONDING).status_code == 201
    hook = api.get("/api/flows/answering/triggers").json()["items"][0]
    start_worker()
    skipped = httpx.post(hook["url"], json={"kind": "refund", "count": 1}, headers={"X-Source": "shop"})
    assert skipped.status_code == 200 and skipped.json() == {"executionId": None, "filtered": True}
    assert ProcessInstance.objects.count() == 0
    answered = httpx.post(hook["url"] + "?user=ada", json={"kind": "order", "count": 21},
                          headers={"X-Source": "shop"}, timeout=40)  # a worker starting on a busy machine
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "succeeded" and answered.json()["output"] == {"total": 42, "who": "ada"}
    outcomes = sorted(WebhookDelivery.objects.values_list("outcome", flat=True))
    assert outcomes == ["filtered", "started"]


def test_event_trigger_starts_a_run_when_its_message_is_published(api):
    flow = {"id": "on_event", "nodes": [{"id": "a", "kind": "transform", "set": {"seen": "amount"}}],
            "triggers": [{"id": "created", "kind": "event", "message": "order-created"}]}
    assert api.post("/api/flows/", flow, format="json").status_code == 201
    resp = api.post("/v2/messages/publication", {"name": "order-created", "correlationKey": "",
                                                  "variables": {"amount": 3}}, format="json")
    assert resp.status_code == 200, resp.text
    [run] = ProcessInstance.objects.all()
    execution = api.get(f"/api/flows/executions/{run.key}").json()
    assert execution["trigger"] == {"kind": "event", "id": "created"}


def test_per_trigger_rate_limit_answers_429_and_records_it(live_server, creds, flush_redis):
    api = httpx.Client(base_url=live_server.url, auth=(creds.client_id, creds.secret), timeout=10)
    flow = {"id": "limited", "nodes": [{"id": "a", "kind": "transform", "set": {"x": "1"}}],
            "triggers": [{"id": "slow", "kind": "webhook", "auth": "none", "rate_limit": 1}]}
    assert api.post("/api/flows/", json=flow).status_code == 201
    url = api.get("/api/flows/limited/triggers").json()["items"][0]["url"]
    began = time.monotonic()
    answers = [httpx.post(url, json={}) for _ in range(6)]
    elapsed = time.monotonic() - began
    statuses = [a.status_code for a in answers]
    accepted, refused = statuses.count(202), statuses.count(429)
    # A burst of two, then one more per second (a slow machine lets the bucket refill in between).
    assert accepted + refused == 6 and 2 <= accepted <= 2 + math.ceil(elapsed) and refused >= 1, (statuses, elapsed)
    assert int(next(a for a in answers if a.status_code == 429).headers["Retry-After"]) >= 1
    assert ProcessInstance.objects.count() == accepted
    assert WebhookDelivery.objects.filter(outcome="rate_limited").count() == refused


def test_a_lagging_engine_refuses_deliveries_with_503_like_the_api_and_records_them(hooks, settings):
    """The /v2 API's backpressure rule for new work (FLOWSYNC_BACKPRESSURE_ENGINE_LAG_MS) answers webhook
    deliveries too: 503 + Retry-After, recorded as `refused` (body kept), nothing started; once the engine
    has caught up, the sender's retry with the same delivery id starts its run."""
    from engine.backpressure import backlog
    from engine.connectors import runner
    from engine.runtime.loop import drain

    _, triggers = hooks
    hook = triggers["signed"]
    redis = runner.redis.connection(runner.QUEUE)
    redis.delete(runner.LAG_KEY)  # what another test's connectors published
    settings.FLOWSYNC_BACKPRESSURE_ENGINE_LAG_MS = 50
    backlog.reset()
    first = json.dumps({"order": "B-1"}).encode()
    assert httpx.post(hook["url"], content=first, headers={**_sign(hook["secret"], first),
                                                           "X-FlowSync-Delivery": "b-1"}).status_code == 202
    time.sleep(0.2)  # its start command waits, pending: no engine runs here
    backlog.reset()
    body = json.dumps({"order": "B-2"}).encode()
    headers = {**_sign(hook["secret"], body), "X-FlowSync-Delivery": "b-2"}
    refused = httpx.post(hook["url"], content=body, headers=headers)
    assert refused.status_code == 503, refused.text
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["title"] == "RESOURCE_EXHAUSTED" and "behind" in refused.json()["detail"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert ProcessInstance.objects.count() == 1
    [record] = WebhookDelivery.objects.filter(outcome="refused")
    assert record.delivery_id == "b-2" and bytes(record.body) == body and record.process_instance_key is None
    # Authentication still comes first: a bad signature is a 401, not a hint about the engine.
    assert httpx.post(hook["url"], content=body, headers=_sign("wrong", body)).status_code == 401
    drain()
    backlog.reset()
    retried = httpx.post(hook["url"], content=body, headers=headers)
    assert retried.status_code == 202, retried.text
    assert ProcessInstance.objects.count() == 2

    # Connectors that fall behind count too (their jobs wait where no command is pending): the lag
    # a connector run publishes refuses new deliveries until it is back under the limit.
    drain()
    redis.set(runner.LAG_KEY, "2.5", ex=5)
    backlog.reset()
    body = json.dumps({"order": "B-3"}).encode()
    late = httpx.post(hook["url"], content=body, headers={**_sign(hook["secret"], body), "X-FlowSync-Delivery": "b-3"})
    assert late.status_code == 503 and "2.5 s behind" in late.json()["detail"], late.text
    assert int(late.headers["Retry-After"]) == 3
    redis.delete(runner.LAG_KEY)
    backlog.reset()
    again = httpx.post(hook["url"], content=body, headers={**_sign(hook["secret"], body), "X-FlowSync-Delivery": "b-3"})
    assert again.status_code == 202, again.text


def test_a_connector_run_publishes_how_long_its_jobs_waited(settings, creds):
    """What the backpressure above reads: the wait of the jobs a connector run takes (0 once none waits)."""
    import threading
    from datetime import timedelta
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from django.utils import timezone

    from engine.actions.flows import deploy_flow, start_run
    from engine.connectors import runner
    from engine.runtime.loop import drain

    called, release = threading.Event(), threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            called.set()
            release.wait(10)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.CONNECTOR_HTTP_ALLOW = "127.0.0.1"
    redis = runner.redis.connection(runner.QUEUE)
    now = timezone.now()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    deploy_flow(creds.tenant, {"id": "calls", "nodes": [{"id": "call", "kind": "http", "url": url}]}, now)
    start_run(creds.tenant, "calls", {}, "test", now)
    drain()
    run = threading.Thread(target=runner.run_connectors, args=([creds.tenant.pk], now + timedelta(seconds=4)))
    run.start()
    try:
        assert called.wait(10)  # the call is in flight: its job waited 4 s (on the run's clock)
        assert 3.9 <= runner.lag_seconds() <= 4.1 and 0 < redis.ttl(runner.LAG_KEY) <= runner.LAG_SECONDS_KEPT
    finally:
        release.set()
        run.join(10)
        server.shutdown()
    assert runner.lag_seconds() == 0.0  # it looked for more and found none waiting


def test_jobs_waiting_for_their_live_workers_refuse_deliveries_of_that_flow(live_server, creds, settings):
    """The job-lag rule of new instances (FLOWSYNC_BACKPRESSURE_JOB_LAG_MS, engine/backpressure.py) answers
    webhook deliveries too: while the jobs of a type the flow uses wait for a worker that polls for them,
    a delivery is refused with 503 + Retry-After and recorded `refused`; nothing started."""
    from engine.backpressure import job_lag
    from engine.runtime.loop import drain

    settings.FLOWSYNC_BACKPRESSURE_JOB_LAG_MS = 200
    job_lag.reset(forget_polls=True)
    api = httpx.Client(base_url=live_server.url, auth=(creds.client_id, creds.secret), timeout=10)
    flow = {"id": "shipped", "nodes": [{"id": "ship", "kind": "job", "type": "ship-it"}],
            "triggers": [{"id": "token", "kind": "webhook", "auth": "bearer"}]}
    assert api.post("/api/flows/", json=flow).status_code == 201, flow
    [hook] = api.get("/api/flows/shipped/triggers").json()["items"]
    headers = {"Authorization": f"Bearer {hook['secret']}", "Content-Type": "application/json"}

    def deliver(n: int) -> httpx.Response:
        return httpx.post(hook["url"], content=b"{}", headers={**headers, "X-FlowSync-Delivery": f"s-{n}"})

    assert [deliver(n).status_code for n in (1, 2)] == [202, 202]
    drain()  # two ship-it jobs wait
    jobs = api.post("/v2/jobs/activation", json={"type": "ship-it", "timeout": 60_000, "maxJobsToActivate": 1,
                                                 "requestTimeout": -1}).json()["jobs"]
    assert len(jobs) == 1  # a live worker, with room for one job
    time.sleep(0.3)
    job_lag.reset()
    refused = deliver(3)
    assert refused.status_code == 503, refused.text
    assert "'ship-it'" in refused.json()["detail"] and int(refused.headers["Retry-After"]) >= 1
    [record] = WebhookDelivery.objects.filter(outcome="refused")
    assert record.delivery_id == "s-3" and record.process_instance_key is None
    assert ProcessInstance.objects.count() == 2
    job_lag.reset(forget_polls=True)
