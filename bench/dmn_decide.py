"""What a business rule task costs: instances through a DMN decision step vs the same process with a
script step instead, engine in-process on PostgreSQL; and bare decision evaluations per second.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/flowsync_bench_dmn .venv/bin/python bench/dmn_decide.py [N]

Prints CPU milliseconds and SQL statements per instance (start + run to the end) for each twin, their
difference (the decision step's own cost), and evaluations/s of `risk` (a FIRST table requiring a
UNIQUE table) called directly. CPU time of this process only (PostgreSQL's own CPU is not in it).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, setup_django, tenant  # noqa: E402

CONFORMANCE = ROOT / "tests" / "engine" / "conformance"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    setup_django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from engine.actions.instances import start_instance
    from engine.definitions.decisions import evaluate_definition
    from engine.definitions.deploy import Resource, deploy
    from engine.models import DecisionDefinition, ProcessDefinition
    from engine.runtime.loop import drain

    bpmn = (CONFORMANCE / "bpmn" / "business-rule-task.bpmn").read_bytes()
    script = (bpmn.replace(b"businessRuleTask", b"scriptTask")
              .replace(b'<zeebe:calledDecision decisionId="risk" resultVariable="risk" />',
                       b'<zeebe:script expression="={level: &quot;medium&quot;, reason: &quot;x&quot;}" '
                       b'resultVariable="risk" />')
              .replace(b'id="business-rule-task"', b'id="script-twin"'))
    t = tenant()
    deploy(t, [Resource("risk.dmn", (CONFORMANCE / "dmn" / "risk.dmn").read_bytes()),
               Resource("brt.bpmn", bpmn), Resource("script.bpmn", script)], timezone.now())
    variables = {"amount": 5000, "applicant": {"country": "DE"}}

    def run(process_id: str) -> tuple[float, float]:
        definition = ProcessDefinition.objects.get(tenant=t, bpmn_process_id=process_id)
        for _ in range(20):  # warm-up: caches, prepared statements
            start_instance(t, definition, variables, "bench", timezone.now())
            drain()
        with CaptureQueriesContext(connection) as queries:
            start_instance(t, definition, variables, "bench", timezone.now())
            drain()
        cpu = time.process_time()
        for _ in range(n):
            start_instance(t, definition, variables, "bench", timezone.now())
            drain()
        return (time.process_time() - cpu) * 1000 / n, len(queries)

    brt_ms, brt_sql = run("business-rule-task")
    script_ms, script_sql = run("script-twin")
    decision = DecisionDefinition.objects.select_related("requirements").get(tenant=t, decision_id="risk")
    evaluate_definition(decision, variables, timezone.now())
    cpu, count = time.process_time(), 2000
    for _ in range(count):
        evaluate_definition(decision, variables, timezone.now())
    per_second = count / (time.process_time() - cpu)
    print(f"load average {os.getloadavg()[0]:.2f}; {n} instances per twin")
    print(f"business rule task: {brt_ms:.2f} ms CPU, {brt_sql} SQL statements per instance")
    print(f"script task twin:   {script_ms:.2f} ms CPU, {script_sql} SQL statements per instance")
    print(f"decision step:      {brt_ms - script_ms:+.2f} ms CPU, {brt_sql - script_sql:+d} statements")
    print(f"decision 'risk' (+ required 'band') evaluated directly: {per_second:,.0f} evaluations/s (CPU)")


if __name__ == "__main__":
    main()
