"""OpenTelemetry tracing, off unless configured: one trace from an API request through the command it
wrote, the engine batch and command span that applied it, to the activation and run of the jobs that
command created.

The trace context crosses process boundaries in the database, as W3C `traceparent` strings:
a command carries the context of the request (or engine command) that wrote it
(`Command.traceparent`), a job the context of the engine command that created it
(`Job.traceparent`). An incoming `traceparent` header is continued.

Configuration (environment): `FLOWSYNC_TRACING=otlp` exports over OTLP/HTTP to
`OTEL_EXPORTER_OTLP_ENDPOINT` (the standard OTEL_EXPORTER_OTLP_* variables apply); `OTEL_SERVICE_NAME` names the service
(`flowsync`). Off, every function here costs one flag test: the API's no-op objects are not even made.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_tracer: trace.Tracer | None = None


def enabled() -> bool:
    return _tracer is not None


def configure(exporter: SpanExporter | None = None, service: str | None = None) -> None:
    """Turn tracing on: spans go to `exporter` as they end (tests), else in batches over OTLP/HTTP."""
    global _provider, _tracer
    shutdown()
    name = service or os.environ.get("OTEL_SERVICE_NAME", "flowsync")
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    _provider, _tracer = provider, provider.get_tracer("flowsync")


def configure_from_environment() -> None:
    if os.environ.get("FLOWSYNC_TRACING", "").lower() == "otlp":
        configure()


def shutdown() -> None:
    """Export what is buffered and turn tracing off."""
    global _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
    _provider, _tracer = None, None


def flush() -> None:
    if _provider is not None:
        _provider.force_flush()


def traceparent(span: Span | None = None) -> str:
    """The W3C traceparent of `span` (or the current span); '' when tracing is off or there is none."""
    if _tracer is None:
        return ""
    carrier: dict[str, str] = {}
    ctx = trace.set_span_in_context(span) if span is not None else None
    _propagator.inject(carrier, context=ctx)
    return carrier.get("traceparent", "")


def _parent(value: str) -> Any:
    return _propagator.extract({"traceparent": value}) if value else None


@contextlib.contextmanager
def span(name: str, parent: str = "", kind: SpanKind = SpanKind.INTERNAL, links: list[Span] | None = None,
         **attributes: Any) -> Iterator[Span | None]:
    """A span (current while the block runs), child of `parent` (a traceparent) if given, else of the
    current span; None when tracing is off."""
    if _tracer is None:
        yield None
        return
    linked = [Link(s.get_span_context()) for s in links or () if s is not None]
    with _tracer.start_as_current_span(name, context=_parent(parent), kind=kind, links=linked,
                                       attributes={k: v for k, v in attributes.items() if v is not None},
                                       record_exception=True, set_status_on_exception=True) as current:
        yield current


def start(name: str, **attributes: Any) -> Span:
    """A span the caller ends (and makes current, if it wants); tracing must be on."""
    assert _tracer is not None
    return _tracer.start_span(name, attributes={k: v for k, v in attributes.items() if v is not None})


def failed(current: Span | None, message: str) -> None:
    if current is not None:
        current.set_status(Status(StatusCode.ERROR, message[:200]))


def link_to(value: str) -> Span | None:
    """A stand-in span for a traceparent, to link to (a batch links every command it applies)."""
    if _tracer is None or not value:
        return None
    return trace.get_current_span(_parent(value)) if value else NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)
