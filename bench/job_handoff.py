"""Job hand-off latency: job created → a long-polling worker receives it, at a steady rate.

    .venv/bin/python bench/job_handoff.py [rate_per_s] [seconds] [engine_workers]

Runs a real server (gunicorn), engine workers (`manage.py engine_worker`) and two job
worker processes against PostgreSQL and Redis; a producer process starts instances of
start → service task → end at the given rate. Each job worker long-polls
`POST /v2/jobs/activation` and hands what it gets to a pool of threads that complete
the jobs, so it is polling again at once (as the official clients do).

The first WARMUP_SECONDS run at the same rate but are not counted: fresh processes open
their connections, prepare statements and fill caches then (the cold first seconds are
printed apart). Latency is measured per job from the moment its instance was requested (the engine's
clock for the job) to the moment a worker holds it, and split into: engine pick-up
(start command written → applied), activation (job committed → a waiting request
locked it) and delivery (locked → the worker has the response).
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_DB, ROOT, setup_django, summary, tenant  # noqa: E402

JOB_TIMEOUT_MS = 60_000
CONSUMER_PROCESSES = 2
WARMUP_SECONDS = 3.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes() -> list[tuple[int, str, int, float]]:
    """(pid, command name, parent pid, user + system CPU seconds) of every process (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
            out.append((int(entry), name, int(rest[1]), (int(rest[11]) + int(rest[12])) / tick))
    return out


def _cpu_seconds() -> dict[int, tuple[str, float]]:
    return {pid: (name, cpu) for pid, name, _, cpu in _processes()}


def _cpu_report(before: dict, after: dict, seconds: float, groups: dict[str, set[int]]) -> str:  # type: ignore[type-arg]
    """CPU per group of processes over the window, in % of one core."""
    used: dict[str, float] = {}
    for pid, (name, cpu) in after.items():
        spent = cpu - before.get(pid, (name, 0.0))[1]
        if spent <= 0:
            continue
        group = next((g for g, pids in groups.items() if pid in pids), None)
        group = group or {"postgres": "postgres", "redis-server": "redis"}.get(name, "other")
        used[group] = used.get(group, 0.0) + spent
    parts = [f"{g} {100 * v / seconds:.0f}%" for g, v in sorted(used.items(), key=lambda kv: -kv[1]) if v > 0.01]
    return f"{100 * sum(used.values()) / seconds:.0f}% of one core: " + ", ".join(parts)


def _children(pid: int) -> set[int]:
    return {pid} | {child for child, _, parent, _ in _processes() if parent == pid}


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


def _consumer(base: str, auth: tuple[str, str], name: str, stop, out) -> None:  # type: ignore[no-untyped-def]
    """One job worker process: a long-polling loop, completions on a thread pool."""
    import httpx

    poll = httpx.Client(base_url=base, auth=auth, timeout=30)
    completer = httpx.Client(base_url=base, auth=auth, timeout=30, limits=httpx.Limits(max_connections=8))
    pool = ThreadPoolExecutor(max_workers=8)
    received: list[tuple[int, float, float]] = []
    while not stop.is_set():
        try:
            resp = poll.post(
                "/jobs/activation",
                json={
                    "type": "payment",
                    "worker": name,
                    "timeout": JOB_TIMEOUT_MS,
                    "maxJobsToActivate": 32,
                    "requestTimeout": 1000,
                },
            )
        except httpx.HTTPError:
            time.sleep(0.1)
            continue
        at = time.time()
        for job in resp.json().get("jobs", []):
            received.append((int(job["jobKey"]), job["variables"]["createdAt"], at))
            pool.submit(completer.post, f"/jobs/{job['jobKey']}/completion", json={})
    pool.shutdown(wait=True)
    out.put(received)


def main(rate: float, seconds: float, engine_workers: int) -> None:
    setup_django()
    from django.utils import timezone

    from engine.definitions.deploy import Resource, deploy
    from engine.models import Command, Job
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
    gunicorn = [str(ROOT / ".venv/bin/gunicorn"), "flowsync.wsgi:application", "--bind", f"127.0.0.1:{port}",
                "--workers", "4", "--threads", "8", "--log-level", "warning"]
    procs = [subprocess.Popen(gunicorn, cwd=ROOT, env=env)]
    procs += [subprocess.Popen([sys.executable, "manage.py", "engine_worker"], cwd=ROOT, env=env)
              for _ in range(engine_workers)]
    base = f"http://127.0.0.1:{port}/v2"
    ctx = multiprocessing.get_context("fork")
    stop = ctx.Event()
    out = ctx.Queue()
    try:
        import httpx

        for _ in range(100):
            try:
                if httpx.get(base + "/status").status_code == 204:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        from django.db import connections

        connections.close_all()
        consumers = [ctx.Process(target=_consumer, args=(base, (key.client_id, secret), f"w{i}", stop, out))
                     for i in range(CONSUMER_PROCESSES)]
        for c in consumers:
            c.start()
        time.sleep(1.5)
        producer = ctx.Process(target=_producer, args=(t.pk, definition.key, rate, WARMUP_SECONDS + seconds, out))
        producer.start()
        window: dict[str, object] = {}

        def first_snapshot() -> None:
            window["before"], window["t0"] = _cpu_seconds(), time.monotonic()

        timer = threading.Timer(WARMUP_SECONDS, first_snapshot)
        timer.start()
        started = out.get()
        after, t1 = _cpu_seconds(), time.monotonic()
        groups = {
            "web (gunicorn)": _children(procs[0].pid),
            "engine worker": {p.pid for p in procs[1:]},
            "benchmark (producer, job workers)": {os.getpid(), producer.pid, *(c.pid for c in consumers)},
        }
        producer.join()
        time.sleep(2)  # the last jobs reach their workers
        stop.set()
        received = [row for _ in consumers for row in out.get()]
        for c in consumers:
            c.join()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)

    print(f"rate {rate:.0f} instances/s for {WARMUP_SECONDS:.0f} + {seconds:.0f} s, {engine_workers} engine "
          f"worker(s): {started} jobs created, {len(received)} received")
    first = min(c for _, c, _ in received)
    warmup = [at - c for _, c, at in received if c < first + WARMUP_SECONDS]
    received = [row for row in received if row[1] >= first + WARMUP_SECONDS]
    print(f"cold first {WARMUP_SECONDS:.0f} s ({len(warmup)} jobs, not counted below): {summary(warmup)}")
    print(f"job hand-off latency, {len(received)} jobs (requested → worker holds it): "
          f"{summary([at - c for _, c, at in received])}")
    jobs = {j.key: j for j in Job.objects.filter(key__in=[k for k, _, _ in received])}
    applied = dict(Command.objects.filter(kind="CREATE_INSTANCE").values_list("process_instance_key", "processed_at"))
    pickup, activation, delivery = [], [], []
    for job_key, created, at in received:
        job = jobs[job_key]
        activated = (job.deadline - timedelta(milliseconds=JOB_TIMEOUT_MS)).timestamp()
        engine_done = applied[job.process_instance_key].timestamp()
        pickup.append(engine_done - created)
        activation.append(activated - engine_done)
        delivery.append(at - activated)
    print(f"  engine pick-up (start command written → applied): {summary(pickup)}")
    print(f"  activation (applied → locked by a waiting request):  {summary(activation)}")
    print(f"  delivery (locked → the worker has the response):    {summary(delivery)}")
    if "before" in window:
        print("CPU while measured, " + _cpu_report(window["before"], after, t1 - window["t0"], groups))


if __name__ == "__main__":
    args = sys.argv[1:]
    main(float(args[0]) if args else 100.0, float(args[1]) if len(args) > 1 else 10.0,
         int(args[2]) if len(args) > 2 else 1)
