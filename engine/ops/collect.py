"""Figures read from the database at scrape time: true for the whole deployment, whichever
process answers the scrape, and nothing for any process to keep in sync."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from engine.queries import status

log = logging.getLogger("flowsync.ops")


class DatabaseCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("flowsync_scrape_database_up", "1 if the database figures below could be read")
        try:
            families = list(self._families())
        except Exception as exc:  # noqa: BLE001 - the counters are still worth serving
            log.warning("metrics: database figures unavailable (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[GaugeMetricFamily]:
        backlog = status.backlog()
        pending = GaugeMetricFamily("flowsync_engine_pending_commands", "Commands waiting to be applied")
        pending.add_metric([], backlog.pending)
        yield pending
        oldest = GaugeMetricFamily("flowsync_engine_oldest_pending_command_age_seconds",
                                   "Age of the oldest pending command (0 when none)")
        oldest.add_metric([], backlog.oldest_age_seconds or 0.0)
        yield oldest

        incidents = GaugeMetricFamily("flowsync_incidents_open", "Active incidents", labels=["tenant", "error_type"])
        for tenant, error_type, n in status.open_incidents():
            incidents.add_metric([tenant, error_type], n)
        yield incidents

        expired = GaugeMetricFamily("flowsync_jobs_lock_expired",
                                    "Activated jobs whose lock timed out", labels=["tenant", "type"])
        for tenant, job_type, n in status.jobs_timed_out():
            expired.add_metric([tenant, job_type], n)
        yield expired

        workers = status.workers(include_stopped_for=0)
        count = GaugeMetricFamily("flowsync_engine_workers", "Engine workers by state", labels=["state"])
        for state in ("alive", "lost"):
            count.add_metric([state], sum(1 for w in workers if w.state == state))
        yield count
        age = GaugeMetricFamily("flowsync_engine_worker_heartbeat_age_seconds",
                                "Oldest last heartbeat among workers not stopped (0 when none)")
        age.add_metric([], max((w.age_seconds for w in workers if w.state != "stopped"), default=0.0))
        yield age

        buffered = GaugeMetricFamily("flowsync_messages_buffered", "Published messages still buffered (TTL running)")
        buffered.add_metric([], status.buffered_messages())
        yield buffered

        conns = GaugeMetricFamily("flowsync_database_connections", "Sessions on this database by state",
                                  labels=["state"])
        for state, n in status.database_connections():
            conns.add_metric([state], n)
        yield conns
