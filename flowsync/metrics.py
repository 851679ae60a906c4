"""Prometheus metrics: every metric FlowSync exports is defined here, once.

Several processes serve one deployment (gunicorn workers, engine workers), so counters and
histograms use prometheus-client's multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set
(scripts/run.sh and gunicorn.conf.py set it): each process writes its samples into mmap
files in that directory and `/metrics`, served by any web worker, sums them all. Without it
(embedded mode, one process) the default in-process registry is used. Figures that are facts
about the database (queue depth, open incidents, live workers) are read from the database
when scraped (engine/ops/collect.py), never kept in a process.

Labels are bounded: tenant, process id, command kind, job type, element type, route, status —
never a key. The engine counts per batch, not per row (engine/runtime/loop.py).
"""

from __future__ import annotations

import functools
import os
from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.registry import REGISTRY, Collector

from flowsync.models import Tenant

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Latency buckets in seconds, from a fast request to a slow batch.
SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LONG_SECONDS = (0.1, 1.0, 10.0, 60.0, 300.0, 1800.0, 3600.0, 6 * 3600.0, 86400.0, 7 * 86400.0)
BATCH_SIZES = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)

commands_applied = Counter("flowsync_engine_commands_applied_total", "Commands applied by the engine", ["kind"])
commands_failed = Counter(
    "flowsync_engine_commands_failed_total", "Commands that failed (engine error) or were rejected", ["kind", "state"]
)
batch_size = Histogram("flowsync_engine_batch_commands", "Commands per engine batch", buckets=BATCH_SIZES)
batch_seconds = Histogram("flowsync_engine_batch_seconds", "Time to load, apply and flush one batch", buckets=SECONDS)
instances = Counter(
    "flowsync_engine_instances_total", "Process instances started, ended or failed (an incident raised)",
    ["tenant", "process_id", "event"],
)
instance_seconds = Histogram(
    "flowsync_engine_instance_duration_seconds", "Start to end of finished process instances",
    ["tenant", "process_id"], buckets=LONG_SECONDS,
)
jobs = Counter("flowsync_jobs_total", "Jobs by what happened to them", ["tenant", "type", "event"])
handoff_seconds = Histogram(
    "flowsync_job_handoff_seconds", "Job created to first activated by a worker", ["type"], buckets=SECONDS + (60.0,),
)
timer_lateness_seconds = Histogram(
    "flowsync_timer_lateness_seconds", "Timer due to fired", buckets=SECONDS + (60.0,),
)
messages = Counter("flowsync_messages_total", "Messages published or correlated", ["tenant", "event"])
http_requests = Counter(
    "flowsync_http_requests_total", "HTTP requests by route and status", ["method", "route", "status"]
)
http_seconds = Histogram("flowsync_http_request_seconds", "HTTP request latency by route", ["route"], buckets=SECONDS)
api_refused = Counter(
    "flowsync_api_refused_requests_total", "API requests refused to protect the service", ["tenant", "reason"]
)
webhook_deliveries = Counter(
    "flowsync_webhook_deliveries_total", "Flow webhook deliveries by outcome (their sum: deliveries received)",
    ["tenant", "outcome"],
)
cleanup_rows = Counter("flowsync_retention_removed_rows_total", "Rows removed by history cleanup", ["table"])


@functools.lru_cache(maxsize=4096)
def tenant_label(tenant_pk: int) -> str:
    """The Camunda tenant id of a tenant row (tenants are never renamed, so cached for the process)."""
    return Tenant.objects.filter(pk=tenant_pk).values_list("tenant_id", flat=True).first() or str(tenant_pk)


def add(counter: Counter, tally: Iterable[tuple[tuple[str, ...], int]] | Tally) -> None:
    """Add a tally {labels: n} to a counter: one write per label set, not one per item."""
    items = tally.items() if isinstance(tally, dict) else tally
    for labels, n in items:
        if n:
            counter.labels(*labels).inc(n)


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or ""


def _source() -> CollectorRegistry:
    """Every process's samples (multiprocess mode) or this process's."""
    path = multiprocess_dir()
    if not path:
        return REGISTRY
    source = CollectorRegistry()
    multiprocess.MultiProcessCollector(source, path=path)
    return source


def render(*extra: Collector) -> bytes:
    """The exposition text: this deployment's counters (all processes) plus `extra` collectors."""
    registry = CollectorRegistry()
    registry.register(_Filtered(_source()))
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


def histogram_buckets(histogram: Histogram) -> list[tuple[float, float]]:
    """One histogram's (upper bound, cumulative count) summed over its labels and every process, the +Inf
    bucket last: what a dashboard without Prometheus can draw (counted since the processes started)."""
    name = histogram._name  # noqa: SLF001 - prometheus-client keeps the family name there
    totals: Tally[float] = Tally()
    for family in _source().collect():
        if family.name == name:
            for sample in family.samples:
                if sample.name == f"{name}_bucket":
                    totals[float(sample.labels["le"])] += sample.value
    return sorted(totals.items())


# django-rq's own timing summary, registered on import, is named like a counter ("_total"),
# which promtool rejects; it is not served (the queue figures that matter are read from the database).
_DROPPED = {"rq_request_processing_seconds_total"}


class _Filtered(Collector):
    """Another registry's metrics in a per-scrape registry, minus the ones we do not serve."""

    def __init__(self, source: CollectorRegistry):
        self.source = source

    def collect(self):  # type: ignore[no-untyped-def]
        return (family for family in self.source.collect() if family.name not in _DROPPED)


def mark_process_dead(pid: int) -> None:
    """Drop a finished process's live gauges (its counters stay: they are history)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)
