"""Webhook-started flows: signed webhook → transform → condition → http (a local stub) → end.

    BENCH_DATABASE_URL=postgres://.../flowsync_bench .venv/bin/python bench/flow_webhook.py [seconds] [workers]

Runs gunicorn, engine workers (which also run the HTTP connector) and a stub HTTP server, deploys
the flow, then:
1. closed loop at rising concurrency (4, 8, 16 senders): completed runs per second, and the CPU
   time the server and engine processes spent per completed run;
2. open loop at a rising rate (50, 100 webhooks/s; the target is stated at 100/s): webhook-to-
   completion p50/p99 (the run's end minus its start, both the server's clock) and the webhook's
   own answer time (202);
3. (between 1 and 2) the synchronous "respond to webhook" mode (a second trigger with `respond:
   true`): the answer time of a webhook that waits for the run's output, one sender at a time.
The load average is printed with the figures: on a shared machine they are only comparable with it.
"""

from __future__ import annotations

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


def main(seconds: float, engine_workers: int) -> None:
    setup_django()
    import httpx
    from django.db import connections
    from django.utils import timezone

    from engine.actions.flows import deploy_flow
    from engine.models import FlowTrigger, ProcessInstance

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
    gunicorn = [str(ROOT / ".venv/bin/gunicorn"), "flowsync.wsgi:application", "--bind", f"127.0.0.1:{port}",
                "--workers", "4", "--threads", "8", "--log-level", "warning"]
    procs = [subprocess.Popen(gunicorn, cwd=ROOT, env=env)]
    procs += [subprocess.Popen([sys.executable, "manage.py", "engine_worker"], cwd=ROOT, env=env)
              for _ in range(engine_workers)]
    counter = iter(range(10**9))
    client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=64))
    run_id = f"{time.time():.0f}"
    timed_out: list[int] = []

    def send(hook=trigger, expect: tuple[int, ...] = (202,)) -> float:  # type: ignore[no-untyped-def]
        n = next(counter)
        body = json.dumps({"id": str(n), "qty": n % 7, "price": 30}).encode()
        stamp = str(int(time.time()))
        sig = hmac.new(hook.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        began = time.perf_counter()
        resp = client.post(f"http://127.0.0.1:{port}/api/flows/hooks/{hook.token}", content=body, headers={
            "Content-Type": "application/json", "X-FlowSync-Timestamp": stamp, "X-FlowSync-Signature": f"sha256={sig}",
            "X-FlowSync-Delivery": f"b{run_id}-{n}"})
        assert resp.status_code in expect, resp.text
        if resp.status_code == 202 and hook is sync:
            timed_out.append(n)  # the run was still going when the respond timeout ran out
        return time.perf_counter() - began

    def completed_between(start, end) -> list[float]:  # type: ignore[no-untyped-def]
        rows = ProcessInstance.objects.filter(start_date__gte=start, start_date__lt=end, state="COMPLETED")
        found = [(r.end_date - r.start_date).total_seconds() for r in rows.only("start_date", "end_date")]
        connections.close_all()
        return found

    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/v2/topology")
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        for _ in range(50):
            send()  # warm-up
        time.sleep(2)
        print(load(), flush=True)
        pids = [p.pid for p in procs]
        for senders in (4, 8, 16):
            start = timezone.now()
            stop = time.monotonic() + seconds
            cpu_before = cpu_seconds(pids)

            def loop(stop: float = stop) -> int:
                sent = 0
                while time.monotonic() < stop:
                    send()
                    sent += 1
                return sent

            with ThreadPoolExecutor(senders) as pool:
                sent = sum(pool.map(lambda _: loop(), range(senders)))
            end = timezone.now()
            time.sleep(3)  # let the runs in flight finish
            cpu = cpu_seconds(pids) - cpu_before
            done = completed_between(start, end)
            print(f"closed loop, {senders:2d} senders: {sent / seconds:6.1f} webhooks/s accepted, "
                  f"{len(done) / seconds:6.1f} runs/s completed ({len(done)}/{sent}); "
                  f"server+engine CPU {cpu * 1000 / max(1, len(done)):.1f} ms per run; {load()}", flush=True)
        # Before the open loop, whose backlog on a slow machine would sit in front of these runs.
        responded = [send(sync, (200, 202)) for _ in range(int(5 * seconds))]
        print(f"respond-to-webhook (waits for the run's output), one sender: p50 "
              f"{percentile(responded, 50) * 1000:.0f} ms, p99 {percentile(responded, 99) * 1000:.0f} ms "
              f"({len(responded)} calls, {len(timed_out)} answered 202 after the respond timeout); {load()}",
              flush=True)
        for rate in (50, 100):
            start = timezone.now()
            with ThreadPoolExecutor(32) as pool:
                futures = []
                t0 = time.monotonic()
                for i in range(int(rate * seconds)):
                    delay = t0 + i / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    futures.append(pool.submit(send))
                answers = [f.result() for f in futures]
            end = timezone.now()
            time.sleep(3)
            done = completed_between(start, end)
            print(f"open loop {rate}/s: webhook-to-completion p50 {percentile(done, 50) * 1000:.0f} ms, "
                  f"p99 {percentile(done, 99) * 1000:.0f} ms ({len(done)}/{len(answers)} completed); "
                  f"202 answer p50 {percentile(answers, 50) * 1000:.0f} ms, "
                  f"p99 {percentile(answers, 99) * 1000:.0f} ms; {load()}", flush=True)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)
        stub.shutdown()


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0, int(sys.argv[2]) if len(sys.argv) > 2 else 2)
