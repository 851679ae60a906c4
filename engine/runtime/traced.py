"""The engine's tracing hook (flowsync/tracing.py): a span per applied command, in the trace of the
request or command that wrote it, linked to the batch that applied it; the jobs and commands it
created carry its context on, so their activation and application join the same trace."""

from __future__ import annotations

import threading

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, get_current_span

from engine.models import Command
from engine.runtime import processors
from engine.runtime.state import InstanceRun
from flowsync import tracing

_batch = threading.local()


def batch_started(instances: int) -> None:
    """Open the batch's span (current until batch_ended), once the batch has claimed instances: a sweep
    that finds nothing leaves no trace."""
    if tracing.enabled():
        span = tracing.start("engine.batch", **{"flowsync.batch.instances": instances})
        _batch.open = (span, context.attach(trace.set_span_in_context(span)))


def batch_ended(commands: int) -> None:
    opened = getattr(_batch, "open", None)
    if opened is not None:
        _batch.open = None
        span, token = opened
        context.detach(token)
        span.set_attribute("flowsync.batch.commands", commands)
        span.end()


def apply(run: InstanceRun, cmd: Command) -> None:
    """processors.apply, inside the command's span when tracing is on."""
    if not tracing.enabled():
        processors.apply(run, cmd)
        return
    with tracing.span(f"engine.command {cmd.kind}", parent=cmd.traceparent, kind=SpanKind.CONSUMER,
                      links=[get_current_span()], **{"flowsync.command.id": cmd.id,
                                                     "flowsync.command.kind": cmd.kind,
                                                     "flowsync.process_instance_key": cmd.process_instance_key}
                      ) as span:
        processors.apply(run, cmd)
        here = tracing.traceparent(span)
        for job in run.created["jobs"].values():
            if not job.traceparent:
                job.traceparent = here
        for sent in run.outbox:
            if not sent.traceparent:
                sent.traceparent = here
