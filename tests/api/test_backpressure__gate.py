"""The backpressure gate in front of Django (engine/api/gate.py): once Django has refused a caller's start
for job lag, the gate refuses that caller's next starts of the process itself — the same 503
RESOURCE_EXHAUSTED problem with Retry-After — without Django; everything it cannot vouch for (another
caller, a bad secret, an Idempotency-Key, a start it does not read plainly, another process) still gets
Django's own answer. Over a real gunicorn (flowsync.wsgi, as served) and in process around the handler."""

from __future__ import annotations

import base64
import io
import json
import time
from wsgiref.util import setup_testing_defaults

import httpx
import pytest
from django.core.handlers.wsgi import WSGIHandler

from engine.api.gate import vouched, wrap
from engine.backpressure import job_lag
from engine.models import Job
from engine.runtime.loop import drain
from tests.api.test_backpressure__job_lag import _variant
from tests.conftest import bpmn_file
from tests.live import WebServer

pytestmark = pytest.mark.django_db(transaction=True)


class Counting:
    """Django's WSGI handler, counting the requests that reach it."""

    def __init__(self) -> None:
        self.handler = WSGIHandler()
        self.calls = 0

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.handler(environ, start_response)


def _call(app, path: str, body: dict | bytes, auth: tuple[str, str], content_type: str = "application/json",
          **headers: str):  # type: ignore[no-untyped-def]
    """One POST through a WSGI application, as gunicorn hands it over: (status, headers, body)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update({"REQUEST_METHOD": "POST", "PATH_INFO": path, "CONTENT_TYPE": content_type,
                    "CONTENT_LENGTH": str(len(raw)), "wsgi.input": io.BytesIO(raw),
                    "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode(),
                    **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}})
    got: dict = {}

    def start_response(status: str, headers: list, exc_info=None):  # type: ignore[no-untyped-def]
        got["status"], got["headers"] = int(status.split()[0]), dict(headers)

    content = b"".join(app(environ, start_response))
    return got["status"], got["headers"], content


@pytest.fixture
def lagging(creds, settings):  # type: ignore[no-untyped-def]
    """order-process deployed, its payment jobs waiting longer than the limit for a live worker."""
    settings.FLOWSYNC_BACKPRESSURE_JOB_LAG_MS = 200
    settings.FLOWSYNC_API_KEY_RECHECK_SECONDS = 30  # the gate trusts what Django vouched for this long
    job_lag.reset(forget_polls=True)
    vouched.reset()
    app = Counting()
    gated = wrap(app)
    auth = (creds.client_id, creds.secret)
    status, _, content = _deploy(gated, auth)
    assert status == 200, content
    for _ in range(3):
        assert _call(gated, "/v2/process-instances", {"processDefinitionId": "order-process"}, auth)[0] == 200
    drain()
    job_lag.polled([creds.tenant.pk], "payment")  # a live payment worker
    time.sleep(0.3)
    job_lag.reset()
    yield gated, app, auth
    job_lag.reset(forget_polls=True)
    vouched.reset()


def _deploy(app, auth):  # type: ignore[no-untyped-def]
    boundary = "gate-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="resources"; filename="{name}"\r\n'
             "Content-Type: application/octet-stream\r\n\r\n".encode() + source + b"\r\n"
             for name, source in (("order.bpmn", bpmn_file("hello-service-task.bpmn")),
                                  ("shipping.bpmn", _variant("shipping-process", "shipping")))]
    raw = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return _call(app, "/v2/deployments", raw, auth, content_type=f"multipart/form-data; boundary={boundary}")


def _assert_refused(status: int, headers: dict, content: bytes) -> dict:
    assert status == 503, content
    assert headers["Content-Type"] == "application/problem+json"
    assert int(headers["Retry-After"]) >= 1 and headers["X-Request-Id"]
    body = json.loads(content)
    assert set(body) == {"type", "title", "status", "detail", "instance"}, body
    assert body["title"] == "RESOURCE_EXHAUSTED" and body["status"] == 503, body
    assert body["instance"] == "/v2/process-instances"
    return body


def test_django_refuses_first_then_the_gate_refuses_alone(lagging, creds):
    gated, app, auth = lagging
    start = {"processDefinitionId": "order-process", "variables": {"createdAt": 1.5}}
    before = app.calls
    first = _assert_refused(*_call(gated, "/v2/process-instances", start, auth))
    assert app.calls == before + 1  # Django decided (and vouched for this caller and process)
    second = _assert_refused(*_call(gated, "/v2/process-instances", start, auth))
    assert app.calls == before + 1  # the gate answered, Django never saw it
    assert second["detail"] == first["detail"] and "'payment'" in second["detail"]


def test_what_the_gate_cannot_vouch_for_gets_djangos_answer(lagging, creds, other_creds):
    gated, app, auth = lagging
    start = {"processDefinitionId": "order-process"}
    _assert_refused(*_call(gated, "/v2/process-instances", start, auth))  # vouched from here on
    calls = app.calls
    # A wrong secret: Django's 401, never a 503 that tells a stranger how the server fares.
    status, _, content = _call(gated, "/v2/process-instances", start, (auth[0], "wrong"))
    assert status == 401, content
    # Another tenant's key has not been vouched for: Django answers (its process does not exist there).
    assert _call(gated, "/v2/process-instances", start, (other_creds.client_id, other_creds.secret))[0] == 404
    # A body Django would reject is Django's to answer, not refused as overload.
    assert _call(gated, "/v2/process-instances", {"processDefinitionId": "order-process", "tenantId": ""},
                 auth)[0] == 400
    assert _call(gated, "/v2/process-instances", b"{not json", auth)[0] == 400
    # A version tag, a key, an Idempotency-Key: Django decides (the key's replay must get its stored answer).
    _assert_refused(*_call(gated, "/v2/process-instances", {**start, "processDefinitionVersion": 1}, auth))
    _assert_refused(*_call(gated, "/v2/process-instances", start, auth, **{"Idempotency-Key": "k-1"}))
    # Another process of the same caller keeps starting: its type has no live worker.
    assert _call(gated, "/v2/process-instances", {"processDefinitionId": "shipping-process"}, auth)[0] == 200
    assert app.calls == calls + 7
    # Messages are never refused for job lag.
    status, _, content = _call(gated, "/v2/messages/publication", {"name": "m", "timeToLive": 0}, auth)
    assert status == 200, content


def test_the_gate_forgets_when_the_jobs_catch_up(lagging, creds):
    gated, app, auth = lagging
    start = {"processDefinitionId": "order-process"}
    _assert_refused(*_call(gated, "/v2/process-instances", start, auth))
    _assert_refused(*_call(gated, "/v2/process-instances", start, auth))
    Job.objects.filter(type="payment").delete()  # nothing waits any more
    job_lag.reset()
    assert _call(gated, "/v2/process-instances", start, auth)[0] == 200


@pytest.mark.slow  # a gunicorn of its own
def test_over_gunicorn_refusals_carry_the_problem_and_retry_after(creds):
    """As served: gunicorn + flowsync.wsgi; the engine lags (pending commands nobody applies), so new starts are
    refused by Django once and then by the gate, all with the same shape."""
    server = WebServer(workers=1, threads=2, FLOWSYNC_BACKPRESSURE_ENGINE_LAG_MS="200",
                       FLOWSYNC_BACKPRESSURE_JOB_LAG_MS="0")
    try:
        with httpx.Client(base_url=server.url + "/v2", auth=(creds.client_id, creds.secret), timeout=10) as http:
            deployed = http.post("/deployments", files=[("resources", ("order.bpmn",
                                                                        bpmn_file("hello-service-task.bpmn")))])
            assert deployed.status_code == 200, deployed.text
            assert http.post("/process-instances", json={"processDefinitionId": "order-process"}).status_code == 200
            time.sleep(0.8)  # no engine worker runs: the start's command waits, the engine lags
            answers = [http.post("/process-instances", json={"processDefinitionId": "order-process"})
                       for _ in range(20)]
            for resp in answers:
                assert resp.status_code == 503, resp.text
                assert resp.headers["Content-Type"].startswith("application/problem+json")
                assert int(resp.headers["Retry-After"]) >= 1
                assert resp.json()["title"] == "RESOURCE_EXHAUSTED"
            # Answers to running work are not refused: an activation goes on (nothing to activate yet).
            got = http.post("/jobs/activation", json={"type": "payment", "timeout": 1000, "maxJobsToActivate": 1,
                                                     "requestTimeout": -1})
            assert got.status_code == 200, got.text
            # Without credentials: Django's 401, not the gate's 503.
            assert httpx.post(server.url + "/v2/process-instances",
                              json={"processDefinitionId": "order-process"}).status_code == 401
    finally:
        server.stop()

