"""Job hand-off latency: job created → a long-polling worker receives it, at a steady rate.

    .venv/bin/python bench/job_handoff.py [rate_per_s] [seconds]

Runs a real server (gunicorn), one engine worker (RQ + sweeper) and 4 long-polling
HTTP workers against PostgreSQL and Redis; a producer starts instances of
start → service task → end at the given rate. Latency is measured per job from the
instance's start request (the engine's clock for the job) to the moment the HTTP
worker holds it; the workers complete what they get.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_DB, ROOT, setup_django, summary, tenant  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _producer(tenant_pk: int, definition_key: int, rate: float, seconds: float, out) -> None:  # type: ignore[no-untyped-def]
    from django.db import connections
    from django.utils import timezone

    from engine.actions.instances import start_instance
    from engine.models import ProcessDefinition
    from flowsync.models import Tenant

    connections.close_all()
    tenant = Tenant.objects.get(pk=tenant_pk)
    definition = ProcessDefinition.objects.get(key=definition_key)
    interval = 1.0 / rate
    started = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        now = timezone.now()
        start_instance(tenant, definition, {"createdAt": now.timestamp()}, "bench", now)
        started += 1
        time.sleep(max(0.0, t0 + started * interval - time.perf_counter()))
    out.put(started)


def produce(tenant_pk: int, definition_key: int, rate: float, seconds: float) -> int:
    """Start instances at `rate` from a process of its own, so the measuring process stays idle."""
    import multiprocessing

    from django.db import connections

    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    proc = ctx.Process(target=_producer, args=(tenant_pk, definition_key, rate, seconds, out))
    proc.start()
    started = out.get()
    proc.join()
    return started


def main(rate: float, seconds: float) -> None:
    setup_django()
    import httpx
    from django.utils import timezone

    from engine.definitions.deploy import Resource, deploy
    from flowsync.models import ApiKey

    t = tenant()
    source = (ROOT / "engine" / "demo" / "order-process.bpmn").read_bytes()
    _, (definition,) = deploy(t, [Resource("order.bpmn", source)], timezone.now())
    key, secret = ApiKey.issue(t, "bench")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": BENCH_DB,
        "DJANGO_SETTINGS_MODULE": "flowsync.settings",
        "FLOWSYNC_ENGINE_INLINE": "0",
        "FLOWSYNC_LOG_LEVEL": "WARNING",
    }
    procs = [
        subprocess.Popen(
            [
                str(ROOT / ".venv/bin/gunicorn"),
                "flowsync.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "16",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        ),
        subprocess.Popen([sys.executable, "manage.py", "engine_worker"], cwd=ROOT, env=env),
    ]
    latencies: list[float] = []
    stop = threading.Event()
    base = f"http://127.0.0.1:{port}/v2"

    def worker(name: str) -> None:
        http = httpx.Client(base_url=base, auth=(key.client_id, secret), timeout=30)
        while not stop.is_set():
            try:
                resp = http.post(
                    "/jobs/activation",
                    json={
                        "type": "payment",
                        "worker": name,
                        "timeout": 60000,
                        "maxJobsToActivate": 10,
                        "requestTimeout": 2000,
                    },
                )
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            received = time.time()
            for job in resp.json().get("jobs", []):
                created = job["variables"]["createdAt"]
                latencies.append(received - created)
                http.post(f"/jobs/{job['jobKey']}/completion", json={})

    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/status").status_code == 204:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        threads = [threading.Thread(target=worker, args=(f"w{i}",), daemon=True) for i in range(4)]
        for th in threads:
            th.start()
        time.sleep(1)
        started = produce(t.pk, definition.key, rate, seconds)
        deadline = time.time() + 10
        while len(latencies) < started and time.time() < deadline:
            time.sleep(0.1)
        stop.set()
        print(f"rate {rate:.0f} instances/s for {seconds:.0f} s: {started} jobs created, {len(latencies)} received")
        print(f"job hand-off latency (created → worker holds it): {summary(latencies)}")
        from engine.models import Command

        pickup = [(c - s).total_seconds() for c, s in Command.objects.filter(kind="CREATE_INSTANCE")
                  .values_list("processed_at", "created_at") if c]
        print(f"  of which engine pick-up (command written → applied): {summary(pickup)}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 100.0, float(sys.argv[2]) if len(sys.argv) > 2 else 10.0)
