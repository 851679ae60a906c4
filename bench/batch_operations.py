"""Batch operations: what one item costs, in CPU time and SQL statements, for a migration and a cancel.

    .venv/bin/python bench/batch_operations.py [instances]

Builds its own database (flowsync_bench_batches): the migration test process v1 and v2
(tests/api/bpmn), N instances (default 1000) waiting on v1's service and user task. Then, in
this process, as the background job would (engine/actions/batches.run_batch, no Redis):
1. a migration batch over all of them (v1 → v2, Task_Pay renamed Task_Charge), then the engine
   applies the N MIGRATE_INSTANCE commands (engine/runtime/loop.drain);
2. a cancel batch over all of them, then the engine applies the N CANCEL_INSTANCE commands.
It prints, per item: the batch job's CPU time and SQL statements (the check, the command row, the
audit entry, progress saves), and the engine's CPU time to apply the command.

Last run (2 vCPUs shared with other sessions, load average 21, PostgreSQL 15), 500 instances:
migrate — batch job 6.6 ms CPU and 11.2 SQL statements per item (25 items/s wall), engine 2.6 ms
CPU per item (one ORM UPDATE per relabelled row: instance, element instances, job, user task);
cancel — batch job 4.4 ms CPU and 7.2 statements per item (39 items/s wall), engine 0.2 ms CPU per
item. Statements are those Django sees (the command INSERT goes through psycopg directly).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flowsync_bench_batches")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, setup_django, tenant  # noqa: E402

BPMN = ROOT / "tests" / "api" / "bpmn"


def main(n: int) -> None:
    setup_django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from engine.actions.batches import run_batch, start_batch
    from engine.actions.instances import start_instance
    from engine.definitions.deploy import Resource, deploy
    from engine.models import BatchOperation, ProcessDefinition, ProcessInstance
    from engine.runtime.loop import drain

    t = tenant()
    for name in ("migration-v1.bpmn", "migration-v2.bpmn"):
        deploy(t, [Resource(name, (BPMN / name).read_bytes())], timezone.now())
    v1, v2 = ProcessDefinition.objects.filter(tenant=t, bpmn_process_id="migration").order_by("version")
    keys = [start_instance(t, v1, {"i": i}, "bench", timezone.now()).key for i in range(n)]
    drain()
    print(f"{n} instances waiting on v1 (load average {os.getloadavg()[0]:.1f})")
    plans = [
        ("migrate", BatchOperation.Kind.MIGRATE_INSTANCES, {
            "targetProcessDefinitionKey": str(v2.key),
            "mappingInstructions": [{"sourceElementId": "Task_Pay", "targetElementId": "Task_Charge"},
                                    {"sourceElementId": "Task_Review", "targetElementId": "Task_Review"}]}),
        ("cancel", BatchOperation.Kind.CANCEL_INSTANCES, {}),
    ]
    for label, kind, params in plans:
        batch = start_batch(t, "admin", kind, keys, "user:bench", params, queue=False)
        connection.queries_log.clear()  # the log keeps 9,000 statements: count each batch from zero
        cpu, wall = time.process_time(), time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            done = run_batch(batch.pk)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        assert done.state == "DONE" and len(done.done) == n, (done.state, len(done.done), done.failed)
        engine_cpu, engine_wall = time.process_time(), time.perf_counter()
        drain()
        engine_cpu, engine_wall = time.process_time() - engine_cpu, time.perf_counter() - engine_wall
        print(f"{label:8s} batch job: {cpu / n * 1000:.2f} ms CPU/item, {len(queries) / n:.1f} SQL statements/item, "
              f"{n / wall:.0f} items/s wall; engine applying: {engine_cpu / n * 1000:.2f} ms CPU/item, "
              f"{n / engine_wall:.0f} items/s wall")
    assert not ProcessInstance.objects.filter(state="ACTIVE").exists()
    assert set(ProcessInstance.objects.values_list("definition_id", flat=True)) == {v2.key}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
