"""OpenTelemetry tracing: off by default; when on, one trace runs from the API request (continuing the
caller's W3C traceparent) through the command it wrote to the engine's span for that command (linked to
its batch), the activation of the job it created, and — in a real engine worker exporting over OTLP/HTTP
to a local collector stand-in — the connector run and the engine command its completion wrote."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from engine.models import Command, Job
from engine.runtime.loop import drain
from flowsync import tracing
from tests.conftest import ROOT, deploy_file, wait_for

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = "00f067aa0ba902b7"
HEADER = f"00-{TRACE}-{CALLER}-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.configure(exporter)
    yield exporter
    tracing.shutdown()


def by_name(exporter: InMemorySpanExporter) -> dict[str, list]:
    out: dict[str, list] = {}
    for span in exporter.get_finished_spans():
        out.setdefault(span.name, []).append(span)
    return out


@pytest.mark.django_db
def test_tracing_is_off_by_default(api):
    assert not tracing.enabled()
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    resp = api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json",
                    HTTP_TRACEPARENT=HEADER)
    assert resp.status_code == 200
    assert Command.objects.get(process_instance_key=resp.json()["processInstanceKey"]).traceparent == ""


@pytest.mark.django_db
@pytest.mark.postgres  # on SQLite the engine applies commands inline, inside the request
def test_one_trace_from_the_request_through_the_command_to_the_job_activation(api, spans):
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    resp = api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json",
                    HTTP_TRACEPARENT=HEADER)
    assert resp.status_code == 200
    key = int(resp.json()["processInstanceKey"])
    [request] = by_name(spans)["POST v2/process-instances"]
    assert format(request.context.trace_id, "032x") == TRACE and format(request.parent.span_id, "016x") == CALLER
    assert request.attributes["http.route"] == "v2/process-instances"
    assert request.attributes["http.response.status_code"] == 200
    command = Command.objects.get(process_instance_key=key)
    assert command.traceparent == f"00-{TRACE}-{request.context.span_id:016x}-01"

    drain()
    [applied] = by_name(spans)["engine.command CREATE_INSTANCE"]
    assert applied.context.trace_id == request.context.trace_id
    assert applied.parent.span_id == request.context.span_id
    assert applied.attributes["flowsync.process_instance_key"] == key
    batch = by_name(spans)["engine.batch"][-1]
    assert batch.attributes["flowsync.batch.commands"] == 1
    assert [link.context.span_id for link in applied.links] == [batch.context.span_id]
    job = Job.objects.get(process_instance_key=key)
    assert job.traceparent == f"00-{TRACE}-{applied.context.span_id:016x}-01"

    # A job worker's poll is its own request; the activation joins the trace that created the job.
    jobs = api.post("/v2/jobs/activation", {"type": "payment", "worker": "w", "timeout": 10000,
                                            "maxJobsToActivate": 5}, format="json").json()["jobs"]
    assert len(jobs) == 1
    [activated] = by_name(spans)["job.activated payment"]
    assert activated.context.trace_id == request.context.trace_id
    assert activated.parent.span_id == applied.context.span_id
    # Its completion (no traceparent sent) starts a trace of its own, carried into the engine.
    assert api.post(f"/v2/jobs/{jobs[0]['jobKey']}/completion", {}, format="json").status_code == 204
    drain()
    [completion] = by_name(spans)["POST v2/jobs/<str:key>/completion"]
    [completed] = by_name(spans)["engine.command COMPLETE_JOB"]
    assert completed.parent.span_id == completion.context.span_id
    assert completed.context.trace_id == completion.context.trace_id != request.context.trace_id


class Collector(http.server.BaseHTTPRequestHandler):
    """A local stand-in for an OpenTelemetry collector's OTLP/HTTP receiver (protobuf on /v1/traces)."""

    received: list = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces" and self.headers["Content-Type"] == "application/x-protobuf":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource in request.resource_spans:
                service = {a.key: a.value.string_value for a in resource.resource.attributes}["service.name"]
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        Collector.received.append((service, span))
            self.send_response(200)
        else:
            self.send_response(400)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    Collector.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_an_engine_worker_exports_the_trace_over_otlp_through_connector_jobs(api, spans, collector, start_worker):
    worker = start_worker(FLOWSYNC_TRACING="otlp", OTEL_EXPORTER_OTLP_ENDPOINT=collector,
                          OTEL_SERVICE_NAME="flowsync-engine", OTEL_BSP_SCHEDULE_DELAY="100")
    bpmn = (ROOT / "tests" / "engine" / "connectors" / "bpmn" / "flowsync-connectors.bpmn").read_bytes()
    assert deploy_file(api, "flowsync-connectors.bpmn", bpmn).status_code == 200
    resp = api.post("/v2/process-instances", {"processDefinitionId": "transform", "variables": {
        "order": {"item": "lamp", "price": 40, "quantity": 3}}}, format="json", HTTP_TRACEPARENT=HEADER)
    assert resp.status_code == 200
    [request] = by_name(spans)["POST v2/process-instances"]

    def in_trace() -> dict[str, list]:
        out: dict[str, list] = {}
        for service, span in Collector.received:
            if span.trace_id.hex() == TRACE:
                out.setdefault(span.name, []).append((service, span))
        return out

    # Three transform tasks one after the other, each a connector run whose completion the engine applies.
    wait_for(lambda: len(in_trace().get("engine.command COMPLETE_JOB", [])) == 3, timeout=30)
    seen = in_trace()
    [(service, created)] = seen["engine.command CREATE_INSTANCE"]
    assert service == "flowsync-engine"
    assert created.parent_span_id.hex() == format(request.context.span_id, "016x")  # across processes
    assert len(seen["connector.run flowsync:transform"]) == 3
    assert len(seen["job.activated flowsync:transform"]) == 3
    ids = {span.span_id for _, spans_ in seen.items() for _, span in spans_}
    for _, done in seen["engine.command COMPLETE_JOB"]:
        assert done.parent_span_id in ids  # every completion hangs off a span of this same trace
    assert "Traceback" not in worker.log_text()
