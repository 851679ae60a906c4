"""Webhook-started flows: signed webhook → transform → condition → http (a local stub) → end.

    .venv/bin/python bench/flow_webhook.py [seconds_per_step] [engine_workers]

Runs gunicorn, engine workers (which also run the HTTP connector) and a stub HTTP server, deploys
the flow, then:
1. closed loop at rising concurrency (4, 8, 16 senders): completed runs per second;
2. open loop at 100 webhooks/s: webhook-to-completion p50/p99 (the run's end minus its start,
   both the server's clock) and the webhook's own answer time (202).
The synchronous "respond to webhook" mode is not built yet, so its latency is not measured.
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
        "triggers": [{"id": "in", "kind": "webhook", "auth": "hmac"}],
    }


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
    trigger = FlowTrigger.objects.get(flow_id="bench_webhook")
    connections.close_all()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": BENCH_DB, "DJANGO_SETTINGS_MODULE": "flowsync.settings",
           "FLOWSYNC_ENGINE_INLINE": "0", "FLOWSYNC_LOG_LEVEL": "WARNING", "FLOWSYNC_CONNECTOR_HTTP_ALLOW": "127.0.0.1"}
    gunicorn = [str(ROOT / ".venv/bin/gunicorn"), "flowsync.wsgi:application", "--bind", f"127.0.0.1:{port}",
                "--workers", "4", "--threads", "8", "--log-level", "warning"]
    procs = [subprocess.Popen(gunicorn, cwd=ROOT, env=env)]
    procs += [subprocess.Popen([sys.executable, "manage.py", "engine_worker"], cwd=ROOT, env=env)
              for _ in range(engine_workers)]
    url = f"http://127.0.0.1:{port}/api/flows/hooks/{trigger.token}"
    counter = iter(range(10**9))
    client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=64))

    def send() -> float:
        n = next(counter)
        body = json.dumps({"id": str(n), "qty": n % 7, "price": 30}).encode()
        stamp = str(int(time.time()))
        sig = hmac.new(trigger.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        began = time.perf_counter()
        resp = client.post(url, content=body, headers={
            "Content-Type": "application/json", "X-FlowSync-Timestamp": stamp, "X-FlowSync-Signature": f"sha256={sig}",
            "X-FlowSync-Delivery": f"b{n}"})
        assert resp.status_code == 202, resp.text
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
        for senders in (4, 8, 16):
            start = timezone.now()
            stop = time.monotonic() + seconds

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
            done = completed_between(start, end)
            print(f"closed loop, {senders:2d} senders: {sent / seconds:6.1f} webhooks/s accepted, "
                  f"{len(done) / seconds:6.1f} runs/s completed ({len(done)}/{sent})", flush=True)
        start = timezone.now()
        answers: list[float] = []
        with ThreadPoolExecutor(32) as pool:
            futures = []
            t0 = time.monotonic()
            for i in range(int(100 * seconds)):
                delay = t0 + i / 100 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(send))
            answers = [f.result() for f in futures]
        end = timezone.now()
        time.sleep(3)
        done = completed_between(start, end)
        print(f"open loop 100/s: webhook-to-completion p50 {percentile(done, 50) * 1000:.0f} ms, "
              f"p99 {percentile(done, 99) * 1000:.0f} ms ({len(done)}/{len(answers)} completed); "
              f"202 answer p50 {percentile(answers, 50) * 1000:.0f} ms, p99 {percentile(answers, 99) * 1000:.0f} ms")
        print("respond-to-webhook (synchronous) latency: not measured, the mode is not built yet")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)
        stub.shutdown()


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0, int(sys.argv[2]) if len(sys.argv) > 2 else 2)
