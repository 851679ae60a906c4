"""Engine-only throughput and latency of the gateway reference process on PostgreSQL.

    .venv/bin/python bench/gateway_reference.py [N] [CHUNK]

The process (tests/engine/conformance/bpmn/gateway-reference.bpmn): an exclusive gateway
on `amount > 100`, a parallel fork of three script tasks, the join, the end. Every
instance starts with amount = 150, so each takes the full path (13 element instances,
3 FEEL evaluations, a join) in one command.

Throughput: N start commands are written first (as the API would), then the engine
drains them; PI/s = N / drain time.
Latency: CHUNK instances at a time are written and drained; each instance's latency is
from its command's commit to the end of the drain that completed it (p50/p99).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import backend_cpu, percentile, setup_django, summary, tenant  # noqa: E402

BPMN = Path(__file__).resolve().parent.parent / "tests" / "engine" / "conformance" / "bpmn" / "gateway-reference.bpmn"


def main(n: int, chunk: int) -> None:
    setup_django()
    from django.db import transaction
    from django.utils import timezone

    from engine.actions.instances import start_instance
    from engine.definitions.deploy import Resource, deploy
    from engine.models import ProcessInstance
    from engine.runtime.loop import drain

    t = tenant()
    _, (definition,) = deploy(t, [Resource("gateway-reference.bpmn", BPMN.read_bytes())], timezone.now())

    # Warm-up: compile caches, connection, key blocks.
    with transaction.atomic():
        for _ in range(50):
            start_instance(t, definition, {"amount": 150}, "bench", timezone.now())
    drain()

    t0 = time.perf_counter()
    for offset in range(0, n, 500):
        with transaction.atomic():
            for _ in range(min(500, n - offset)):
                start_instance(t, definition, {"amount": 150}, "bench", timezone.now())
    t1 = time.perf_counter()
    c1, p1 = time.process_time(), backend_cpu()
    drain()
    t2 = time.perf_counter()
    c2, p2 = time.process_time(), backend_cpu()

    latencies: list[float] = []
    batches: list[float] = []
    for _ in range(max(1, n // chunk // 2)):
        submitted = []
        with transaction.atomic():
            for _ in range(chunk):
                start_instance(t, definition, {"amount": 150}, "bench", timezone.now())
                submitted.append(time.perf_counter())
        b0 = time.perf_counter()
        drain()
        b1 = time.perf_counter()
        batches.append(b1 - b0)
        latencies += [b1 - s for s in submitted]

    total = ProcessInstance.objects.count()
    done = ProcessInstance.objects.filter(state="COMPLETED").count()
    assert done == total, f"only {done} of {total} instances completed"
    print(f"gateway reference: {n} instances (amount=150: xor -> fork of 3 scripts -> join -> end)")
    print(f"write start commands (API side):  {n / (t1 - t0):8.0f} /s")
    print(f"engine-only throughput:           {n / (t2 - t1):8.0f} PI/s")
    print(f"engine Python CPU per instance:   {(c2 - c1) / n * 1e6:8.0f} µs")
    print(f"PostgreSQL CPU per instance:      {(p2 - p1) / n * 1e6:8.0f} µs  (the engine's backend)")
    print(f"load average (1 min) at the end:  {os.getloadavg()[0]:8.1f}")
    print(f"latency, chunks of {chunk} (commit -> completed): {summary(latencies)}")
    print(f"drain time per chunk of {chunk}: p50 {percentile(batches, 50) * 1000:.1f} ms, "
          f"p99 {percentile(batches, 99) * 1000:.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000, int(sys.argv[2]) if len(sys.argv) > 2 else 100)
