"""History cleanup under load: 30+ days of synthetic finished history, then the cleanup (row deletes in
small batches, then whole log partitions dropped) while API creates and job completions go on.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/flowsync_cleanup REDIS_URL=redis://127.0.0.1:6379/14 \\
      .venv/bin/python bench/cleanup_history.py [--per-day 2000] [--days 37] [--seconds 15] [--rate 20]

History: `--per-day` finished instances (start → service task → end) per day over `--days` days (the
tenant keeps 30), each with its element instances, variables, job, commands and events, written with
SQL as the engine would have (commands and events into the weekly partitions of their day). Then one
gunicorn + one engine worker (its own cleanup off) serve steady load — `--rate` creates per second
through `POST /v2/process-instances`, job workers completing through the API — for `--seconds`
before the cleanup and during it. Prints rows removed per second, each partition drop, table sizes
before and after, and p50/p99 of API create latency and engine latency (command written → applied)
before vs during the cleanup, with the machine's load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chaos import Cluster  # noqa: E402
from common import ROOT, percentile, setup_django, tenant  # noqa: E402

TABLES = ("engine_processinstance", "engine_elementinstance", "engine_variable", "engine_job", "engine_command",
          "engine_event")


def synthesize(tenant_id: int, definition_id: int, per_day: int, days: int) -> int:
    """Finished instances spread over `days` days, written in one statement per table; returns the count."""
    from django.db import connection

    n = per_day * days
    base = 10**12
    with connection.cursor() as cur:
        # g: instance number; its end: spread evenly over the days, the newest an hour ago.
        cur.execute("CREATE TEMP TABLE synth AS SELECT g, %s::bigint + g * 16 AS key, "
                    "now() - interval '1 hour' - (g::float / %s) * (%s * interval '1 day') AS ended "
                    "FROM generate_series(0, %s - 1) g", [base, n, days, n])
        cur.execute("INSERT INTO engine_processinstance (key, business_key, state, has_incident, start_date, end_date,"
                    " root_instance_key, definition_id, tenant_id) SELECT key, '', 'COMPLETED', false,"
                    " ended - interval '5 minutes', ended, key, %s, %s FROM synth", [definition_id, tenant_id])
        cur.execute("INSERT INTO engine_elementinstance (key, element_id, element_type, flow_scope_key, state,"
                    " start_date, end_date, data, tenant_id, process_instance_id) SELECT key + e, "
                    "(ARRAY['order-process','StartEvent_Order','Task_Pay','EndEvent_Order'])[e],"
                    " (ARRAY['PROCESS','START_EVENT','SERVICE_TASK','END_EVENT'])[e], CASE WHEN e = 1 THEN NULL"
                    " ELSE key + 1 END, 'COMPLETED', ended - interval '5 minutes', ended, '{}', %s, key"
                    " FROM synth, generate_series(1, 4) e", [tenant_id])
        cur.execute("INSERT INTO engine_variable (key, scope_key, name, value, process_instance_id, tenant_id)"
                    " SELECT key + 4 + v, key + 1, 'v' || v, to_jsonb(g), key, %s FROM synth, generate_series(1, 2) v",
                    [tenant_id])
        cur.execute("INSERT INTO engine_job (key, process_instance_key, element_instance_key, element_id,"
                    " process_definition_key, bpmn_process_id, process_definition_version, type, state, retries,"
                    " worker, custom_headers, error_message, created_at, tenant_id, failures, lease_token, attempts,"
                    " traceparent) SELECT key + 7, key, key + 3, 'Task_Pay', %s, 'order-process', 1, 'payment',"
                    " 'COMPLETED', 3, 'w', '{}', '', ended - interval '4 minutes', %s, 0, '', '[]', '' FROM synth",
                    [definition_id, tenant_id])
        cur.execute("INSERT INTO engine_command (tenant_id, process_instance_key, kind, payload, state, actor,"
                    " created_at, processed_at, keys, error, traceparent, logged_at) SELECT %s, key,"
                    " (ARRAY['CREATE_INSTANCE','COMPLETE_JOB'])[c], '{}', 'PROCESSED', 'bench', ended, ended, '[]',"
                    " '', '', ended FROM synth, generate_series(1, 2) c", [tenant_id])
        cur.execute("INSERT INTO engine_event (tenant_id, process_instance_key, command_id, command_kind, created_at,"
                    " records, logged_at) SELECT %s, key, NULL, (ARRAY['CREATE_INSTANCE','COMPLETE_JOB'])[c], ended,"
                    " '[{\"intent\": \"ELEMENT_COMPLETED\"}]', ended FROM synth, generate_series(1, 2) c",
                    [tenant_id])
        cur.execute("DROP TABLE synth")
        for table in TABLES:
            cur.execute(f"ANALYZE {table}")
    return n


def sizes() -> dict[str, tuple[int, int]]:
    from django.db import connection

    out = {}
    with connection.cursor() as cur:
        for table in TABLES:
            cur.execute(f"SELECT count(*) FROM {table}")
            rows = cur.fetchone()[0]
            # A partitioned table's size is its partitions' sizes.
            cur.execute("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c WHERE c.oid = "
                        "%s::regclass OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = %s::regclass)",
                        [table, table])
            out[table] = (rows, int(cur.fetchone()[0]))
    return out


class Load:
    """Creates at a steady rate and job workers completing, through the API; latencies per phase."""

    def __init__(self, url: str, auth: tuple[str, str], rate: float):
        self.url, self.auth, self.rate = url, auth, rate
        self.stop = threading.Event()
        self.phase = "before"
        self.api: dict[str, list[float]] = {"before": [], "during": []}
        self.errors = 0
        self.threads = [threading.Thread(target=self._create), threading.Thread(target=self._work),
                        threading.Thread(target=self._work)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def _create(self) -> None:
        with httpx.Client(base_url=self.url, auth=self.auth, timeout=30) as api:
            next_at = time.monotonic()
            while not self.stop.is_set():
                t0 = time.perf_counter()
                resp = api.post("/v2/process-instances", json={"processDefinitionId": "order-process"})
                if resp.status_code == 200:
                    self.api[self.phase].append(time.perf_counter() - t0)
                else:
                    self.errors += 1
                next_at += 1 / self.rate
                time.sleep(max(0.0, next_at - time.monotonic()))

    def _work(self) -> None:
        with httpx.Client(base_url=self.url, auth=self.auth, timeout=30) as api:
            while not self.stop.is_set():
                resp = api.post("/v2/jobs/activation", json={"type": "payment", "worker": "w", "timeout": 30000,
                                                             "maxJobsToActivate": 20, "requestTimeout": 1000})
                for job in resp.json().get("jobs", []) if resp.status_code == 200 else []:
                    api.post(f"/v2/jobs/{job['jobKey']}/completion", json={})

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def engine_latency(since, until) -> list[float]:  # type: ignore[no-untyped-def]
    """Command written → applied, for the load's commands written in [since, until)."""
    from engine.models import Command

    rows = Command.objects.filter(created_at__gte=since, created_at__lt=until,
                                  processed_at__isnull=False).values_list("created_at", "processed_at")
    return [(done - made).total_seconds() for made, done in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-day", type=int, default=2000)
    parser.add_argument("--days", type=int, default=37)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rate", type=float, default=20)
    args = parser.parse_args()
    os.environ["FLOWSYNC_RETENTION_INTERVAL_SECONDS"] = "0"  # the servers' own cleanup stays off: we run it
    setup_django()
    import datetime

    from django.db import connections
    from django.utils import timezone

    from engine.definitions.deploy import Resource, deploy
    from engine.models import ProcessDefinition
    from engine.store import partitions, retention
    from flowsync.models import ApiKey

    t = tenant()
    assert t.history_retention_days == 30
    deploy(t, [Resource("order.bpmn", (ROOT / "tests/engine/bpmn/hello-service-task.bpmn").read_bytes())],
           timezone.now())
    definition = ProcessDefinition.objects.get(tenant=t, bpmn_process_id="order-process")
    now = timezone.now()
    for week in range(0, args.days + 7, 7):
        partitions.ensure(now - datetime.timedelta(days=week))
    started = time.perf_counter()
    n = synthesize(t.pk, definition.pk, args.per_day, args.days)
    before = sizes()
    print(f"synthesised {n} finished instances over {args.days} days ({sum(r for r, _ in before.values())} rows)"
          f" in {time.perf_counter() - started:.0f} s; the tenant keeps 30 days")
    key, secret = ApiKey.issue(t, "bench")
    connections.close_all()
    cluster = Cluster(engine_workers=1, web_workers=2)
    load = Load(cluster.url, (key.client_id, secret), args.rate)
    try:
        load.start()
        phase_start = timezone.now()
        time.sleep(args.seconds)
        load.phase = "during"
        cleaning_from = timezone.now()
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        removed = retention.Removed()
        while True:  # as the engine workers do, one bounded run after the other
            run = retention.cleanup(timezone.now(), seconds=1.0)
            removed.rows.update(run.rows)
            if not run.more and not run.rows:
                break
        cleaning = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        if cleaning < args.seconds:  # the "during" window is as long as the "before" one
            time.sleep(args.seconds - cleaning)
        cleaning_to = timezone.now()
        load.finish()
        time.sleep(2)  # the last commands are applied
        engine_before = engine_latency(phase_start, cleaning_from)
        engine_during = engine_latency(cleaning_from, cleaning_to)
    finally:
        load.stop.set()
        cluster.stop()
    after = sizes()
    total = sum(removed.rows.values())
    logs = removed.rows["commands"] + removed.rows["events"]
    print(f"cleanup: {removed.instances} instances, {total} rows in {cleaning:.1f} s = {total / cleaning:,.0f} rows/s"
          f" (of which {logs} command/event rows by dropping partitions); bench-process CPU {cpu:.1f} s")
    print(f"{'table':24} {'rows before':>12} {'after':>10} {'MB before':>10} {'after':>8}")
    for table in TABLES:
        (rb, sb), (ra, sa) = before[table], after[table]
        print(f"{table:24} {rb:>12} {ra:>10} {sb / 1e6:>10.1f} {sa / 1e6:>8.1f}")
    for label, values in (("API create", load.api), ("engine (written → applied)",
                                                     {"before": engine_before, "during": engine_during})):
        b, d = values["before"], values["during"]
        worse = (percentile(d, 99) / percentile(b, 99) - 1) * 100 if b and d else float("nan")
        print(f"{label:28} before: p50 {percentile(b, 50) * 1000:6.1f} ms p99 {percentile(b, 99) * 1000:7.1f} ms"
              f" (n={len(b)})   during: p50 {percentile(d, 50) * 1000:6.1f} ms p99 {percentile(d, 99) * 1000:7.1f} ms"
              f" (n={len(d)})   p99 {worse:+.0f} %")
    print(f"non-200 creates: {load.errors}; load average {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f}"
          f" {os.getloadavg()[2]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
