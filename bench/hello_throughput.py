"""Engine-only throughput of start → service task → end on PostgreSQL.

    .venv/bin/python bench/hello_throughput.py [N] [engine processes]

Phase 1 writes N start commands (as the API would, in batches), drains them, then
activates and completes every job (as workers would) and drains again. It prints
process instances per second for the engine loop alone and for the whole round trip,
and create→complete latency p50/p99 measured from each instance's start to the
wall-clock time its last command was applied.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import backend_cpu, setup_django, summary, tenant  # noqa: E402


def engine_cpu() -> float:
    """CPU seconds of this process and of its finished children (the forked engine processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _drain_counted(out) -> None:  # type: ignore[no-untyped-def]
    from engine.runtime.loop import drain

    before = backend_cpu()
    drain()
    out.put(backend_cpu() - before)


def parallel_drain(workers: int) -> float:
    """Drain with `workers` processes at once (each claims different instances: SKIP LOCKED); returns the
    CPU seconds their PostgreSQL backends spent."""
    import multiprocessing

    from django.db import connections

    from engine.runtime.loop import drain

    if workers <= 1:
        before = backend_cpu()
        drain()
        return backend_cpu() - before
    connections.close_all()  # a forked child must not share the parent's connection
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_drain_counted, args=(out,)) for _ in range(workers)]
    for p in procs:
        p.start()
    spent = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    return spent


def main(n: int, workers: int = 1) -> None:
    setup_django()
    from django.db import transaction
    from django.utils import timezone

    from engine.actions.instances import start_instance
    from engine.actions.jobs import activate_jobs, complete_job
    from engine.definitions.deploy import Resource, deploy
    from engine.models import Command, ProcessInstance

    t = tenant()
    source = (Path(__file__).resolve().parent.parent / "engine" / "demo" / "order-process.bpmn").read_bytes()
    _, (definition,) = deploy(t, [Resource("order.bpmn", source)], timezone.now())

    t0 = time.perf_counter()
    for offset in range(0, n, 500):
        with transaction.atomic():
            for _ in range(min(500, n - offset)):
                start_instance(t, definition, {"orderId": "A-1", "amount": 42}, "bench", timezone.now())
    t1 = time.perf_counter()
    c1 = engine_cpu()
    pg = parallel_drain(workers)
    t2 = time.perf_counter()
    c2 = engine_cpu()
    completed = 0
    while True:
        jobs = activate_jobs([t.pk], "payment", "bench", 60_000, 500, timezone.now())
        if not jobs:
            break
        with transaction.atomic():
            for job in jobs:
                complete_job([t.pk], job.key, {"paid": True}, "bench", timezone.now())
        completed += len(jobs)
    t3 = time.perf_counter()
    c3 = engine_cpu()
    pg += parallel_drain(workers)
    t4 = time.perf_counter()
    c4 = engine_cpu()

    done = ProcessInstance.objects.filter(state="COMPLETED").count()
    assert done == n, f"only {done} of {n} instances completed"
    engine_s = (t2 - t1) + (t4 - t3)
    print(f"instances: {n} (jobs completed: {completed}), engine processes: {workers}")
    print(f"write start commands (API side):  {n / (t1 - t0):8.0f} /s")
    print(f"engine: apply start commands:     {n / (t2 - t1):8.0f} PI/s")
    print(f"activate + complete jobs (API):   {n / (t3 - t2):8.0f} /s")
    print(f"engine: apply job completions:    {n / (t4 - t3):8.0f} PI/s")
    print(f"engine-only throughput:           {n / engine_s:8.0f} PI/s  (both commands of each instance)")
    # Every engine process counts (forked drains are children); PostgreSQL's own CPU does not.
    print(f"engine Python CPU per instance:   {((c2 - c1) + (c4 - c3)) / n * 1e6:8.0f} µs  (all engine processes)")
    print(f"PostgreSQL CPU per instance:      {pg / n * 1e6:8.0f} µs  (the engine processes' backends)")
    print(f"load average (1 min) at the end:  {os.getloadavg()[0]:8.1f}")
    print(f"end-to-end throughput:            {n / (t4 - t0):8.0f} PI/s")
    lat = []
    from django.db.models import Max

    applied = dict(
        Command.objects.values("process_instance_key")
        .annotate(m=Max("processed_at"))
        .values_list("process_instance_key", "m")
    )
    for key, start in ProcessInstance.objects.values_list("key", "start_date"):
        lat.append((applied[key] - start).total_seconds())
    print(f"create→complete latency (batch mode): {summary(lat)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000, int(sys.argv[2]) if len(sys.argv) > 2 else 1)
