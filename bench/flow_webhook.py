"""Webhook-started flows: signed webhook → transform → condition → http (a local stub) → end.

    BENCH_DATABASE_URL=postgres://.../flowsync_bench .venv/bin/python bench/flow_webhook.py [seconds] [workers]
        [--lag-ms N] [--rates 50,100,150,200] [--senders 4,8,16]

Runs gunicorn, engine workers (which also run the HTTP connector) and a stub HTTP server, deploys
the flow, then phases, each starting on a drained system (no run active, no command pending) and
counting only the runs it started (the executionIds of its 202 answers), after waiting for them:
1. closed loop at rising concurrency (4, 8, 16 senders; a sender refused with 503 waits Retry-After,
   as a real one would): webhooks accepted and refused per second, completed runs per second (its
   runs / from its start to the end of its last run), webhook-to-completion p50/p99 (the run's end
   minus its start, both the server's clock), and the CPU time per completed run of the server and
   engine processes and of the PostgreSQL backends serving them (the figure that survives a busy
   machine; backends that exit during a phase are missed);
2. the synchronous "respond to webhook" mode (a second trigger with `respond: true`): the answer
   time of a webhook that waits for the run's output, one sender at a time;
3. open loop at rising rates (default 50, 100, 150, 200 webhooks/s; the target is stated at 100/s):
   the same figures, and the webhook's own answer time (202).
The server refuses new runs while the engine lags more than --lag-ms (FLOWSYNC_BACKPRESSURE_ENGINE_LAG_MS,
default the server's own, 1000). The load average is printed with the figures: on a shared machine
they are only comparable with it.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_DB, ROOT, percentile, setup_django, tenant  # noqa: E402
from job_handoff import free_port  # noqa: E402


class Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"accepted": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def flow(stub_url: str) -> dict:
    return {
        "id": "bench_webhook",
        "nodes": [
            {"id": "shape", "kind": "transform", "set": {"total": "qty * price", "label": "'order-' + id"}},
            {"id": "big", "kind": "condition", "expression": "total > 100"},
            {"id": "small", "kind": "transform", "set": {"label": "label + '-small'"}},
            {"id": "notify", "kind": "http", "method": "POST", "url": stub_url, "body": "={label: label}",
             "join": "one_success"},
        ],
        "edges": [{"from": "shape", "to": "big"}, {"from": "big", "to": "notify", "branch": "true"},
                  {"from": "big", "to": "small", "branch": "false"}, {"from": "small", "to": "notify"}],
        "output": {"label": "label"},
        "triggers": [{"id": "in", "kind": "webhook", "auth": "hmac"},
                     {"id": "sync", "kind": "webhook", "auth": "hmac", "respond": True}],
    }


def _descendants(pids: list[int]) -> set[int]:
    """The processes and their children (gunicorn's workers), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found = set(pids)
    while True:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        if not more:
            return found
        found |= more


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes and their children so far."""
    total = 0
    for pid in _descendants(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def postgres_pids() -> list[int]:
    """The PostgreSQL backends serving the bench database (other sessions than this one)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return [row[0] for row in cur.fetchall()]


def process_cpu(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue
    return found


class Cpu:
    """CPU seconds of the server and engine processes (with children) and of the database's backends."""

    def __init__(self, server: int, engines: list[int]) -> None:
        self.server, self.engines = server, engines
        self.before = (cpu_seconds([server]), cpu_seconds(engines))
        self.backends = process_cpu(postgres_pids())

    def spent(self) -> tuple[float, float, float]:
        """(server, engine workers, PostgreSQL backends) CPU seconds since the start."""
        backends = process_cpu(postgres_pids())
        return (cpu_seconds([self.server]) - self.before[0], cpu_seconds(self.engines) - self.before[1],
                sum(cpu - self.backends.get(pid, 0.0) for pid, cpu in backends.items()))


def main(seconds: float, engine_workers: int, lag_ms: int | None, rates: list[int], senders_list: list[int]) -> None:
    setup_django()
    import httpx
    from django.db import connections
    from django.utils import timezone

    from engine.actions.flows import deploy_flow
    from engine.models import Command, FlowTrigger, ProcessInstance

    stub = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    stub.daemon_threads = True
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    deploy_flow(tenant(), flow(f"http://127.0.0.1:{stub.server_address[1]}/notify"), timezone.now())
    trigger = FlowTrigger.objects.get(flow_id="bench_webhook", trigger_id="in")
    sync = FlowTrigger.objects.get(flow_id="bench_webhook", trigger_id="sync")
    connections.close_all()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": BENCH_DB, "DJANGO_SETTINGS_MODULE": "flowsync.settings",
           "FLOWSYNC_ENGINE_INLINE": "0", "FLOWSYNC_LOG_LEVEL": "WARNING", "FLOWSYNC_CONNECTOR_HTTP_ALLOW": "127.0.0.1"}
    if lag_ms is not None:
        env["FLOWSYNC_BACKPRESSURE_ENGINE_LAG_MS"] = str(lag_ms)
    gunicorn = [str(ROOT / ".venv/bin/gunicorn"), "flowsync.wsgi:application", "--bind", f"127.0.0.1:{port}",
                "--workers", "4", "--threads", "8", "--log-level", "warning"]
    procs = [subprocess.Popen(gunicorn, cwd=ROOT, env=env)]
    procs += [subprocess.Popen([sys.executable, "manage.py", "engine_worker"], cwd=ROOT, env=env)
              for _ in range(engine_workers)]
    counter = iter(range(10**9))
    client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=64))
    run_id = f"{time.time():.0f}"

    class Answer:
        def __init__(self, status: int, took: float, key: int | None, retry_after: float) -> None:
            self.status, self.took, self.key, self.retry_after = status, took, key, retry_after

    def send(hook=trigger) -> Answer:  # type: ignore[no-untyped-def]
        n = next(counter)
        body = json.dumps({"id": str(n), "qty": n % 7, "price": 30}).encode()
        stamp = str(int(time.time()))
        sig = hmac.new(hook.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        began = time.perf_counter()
        try:
            resp = client.post(f"http://127.0.0.1:{port}/api/flows/hooks/{hook.token}", content=body, headers={
                "Content-Type": "application/json", "X-FlowSync-Timestamp": stamp,
                "X-FlowSync-Signature": f"sha256={sig}", "X-FlowSync-Delivery": f"b{run_id}-{n}"})
        except httpx.TransportError:  # the server dropped the connection (counted as an error, no answer)
            return Answer(0, time.perf_counter() - began, None, 1.0)
        took = time.perf_counter() - began
        assert resp.status_code in (200, 202, 503), resp.text
        key = int(resp.json()["executionId"]) if resp.status_code in (200, 202) else None
        return Answer(resp.status_code, took, key, float(resp.headers.get("Retry-After", 0) or 0))

    def drained(limit: float = 120.0) -> bool:
        """Wait until no run is active and no command pending (the previous phase's backlog is gone)."""
        stop = time.monotonic() + limit
        try:
            while time.monotonic() < stop:
                if (not ProcessInstance.objects.filter(state="ACTIVE").exists()
                        and not Command.objects.filter(state="PENDING").exists()):
                    return True
                time.sleep(0.2)
            return False
        finally:
            connections.close_all()

    def runs_of(keys: list[int]) -> tuple[list[float], float]:
        """The completed runs' webhook-to-completion times and the span from the first start to the last end."""
        rows = []
        for at in range(0, len(keys), 5000):
            rows += list(ProcessInstance.objects.filter(key__in=keys[at:at + 5000], state="COMPLETED")
                         .values_list("start_date", "end_date"))
        connections.close_all()
        if not rows:
            return [], 0.0
        span = (max(end for _, end in rows) - min(start for start, _ in rows)).total_seconds()
        return [(end - start).total_seconds() for start, end in rows], span

    def report(what: str, answers: list[Answer], elapsed: float, cpu: Cpu, extra: str = "") -> None:
        drained(60.0)
        server, engine, backends = cpu.spent()
        keys = [a.key for a in answers if a.status == 202 and a.key is not None]
        refused = sum(a.status == 503 for a in answers)
        errors = sum(a.status == 0 for a in answers)
        done, span = runs_of(keys)
        n = max(1, len(done))
        print(f"{what}: {len(keys) / elapsed:6.1f} webhooks/s accepted, {refused / elapsed:5.1f}/s refused (503)"
              f"{f', {errors} connection errors' if errors else ''}; "
              f"{len(done)}/{len(keys)} of its runs completed, {len(done) / max(span, elapsed):6.1f} runs/s; "
              f"webhook-to-completion p50 {percentile(done, 50) * 1000:.0f} ms, "
              f"p99 {percentile(done, 99) * 1000:.0f} ms"
              f"{extra}; CPU per run: server+engine {(server + engine) * 1000 / n:.1f} ms "
              f"(server {server * 1000 / n:.1f}, "
              f"engine {engine * 1000 / n:.1f}), PostgreSQL {backends * 1000 / n:.1f} ms; "
              f"{load()}", flush=True)

    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/v2/topology")
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        # Warm-up from 16 connections at once, so that every gunicorn worker has loaded its URLs and views.
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda _: send(), range(200)))
        print(f"warm-up drained: {drained()}; {load()}", flush=True)
        for senders in senders_list:
            drained()
            cpu = Cpu(procs[0].pid, [p.pid for p in procs[1:]])
            stop = time.monotonic() + seconds

            def loop(stop: float = stop) -> list[Answer]:
                answers = []
                while time.monotonic() < stop:
                    answer = send()
                    answers.append(answer)
                    if answer.status in (0, 503):
                        time.sleep(min(answer.retry_after, max(0.0, stop - time.monotonic())))
                return answers

            with ThreadPoolExecutor(senders) as pool:
                answers = [a for part in pool.map(lambda _: loop(), range(senders)) for a in part]
            report(f"closed loop, {senders:2d} senders", answers, seconds, cpu)
        drained()
        responded, late = [], 0
        for _ in range(int(5 * seconds)):
            answer = send(sync)
            responded.append(answer.took)
            late += answer.status == 202  # the run was still going when the respond timeout ran out
        print(f"respond-to-webhook (waits for the run's output), one sender: p50 "
              f"{percentile(responded, 50) * 1000:.0f} ms, p99 {percentile(responded, 99) * 1000:.0f} ms "
              f"({len(responded)} calls, {late} answered 202 after the respond timeout); {load()}", flush=True)
        for rate in rates:
            drained()
            cpu = Cpu(procs[0].pid, [p.pid for p in procs[1:]])
            with ThreadPoolExecutor(64) as pool:
                futures = []
                t0 = time.monotonic()
                for i in range(int(rate * seconds)):
                    delay = t0 + i / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    futures.append(pool.submit(send))
                answers = [f.result() for f in futures]
            took = [a.took for a in answers]
            report(f"open loop {rate:3d}/s", answers, seconds, cpu, f"; webhook answer p50 "
                   f"{percentile(took, 50) * 1000:.0f} ms, p99 {percentile(took, 99) * 1000:.0f} ms")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)
        stub.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seconds", nargs="?", type=float, default=10.0)
    parser.add_argument("workers", nargs="?", type=int, default=2)
    parser.add_argument("--lag-ms", type=int, default=None)
    parser.add_argument("--rates", default="50,100,150,200")
    parser.add_argument("--senders", default="4,8,16", help="closed-loop concurrencies ('' for none)")
    args = parser.parse_args()
    main(args.seconds, args.workers, args.lag_ms, [int(r) for r in args.rates.split(",") if r],
         [int(n) for n in args.senders.split(",") if n])
