"""The engine's cost of one hello instance at a trickle: every command drained alone, in-process.

    .venv/bin/python bench/engine_trickle.py [N]
    .venv/bin/python bench/engine_trickle.py [N] --instructions   (under callgrind: instructions per batch)

N instances are started one by one, each start drained on its own; then their jobs are completed
one by one, each completion drained on its own (one command per batch, the low-rate case of
bench/e2e_http.py without HTTP). Prints per instance: statements the engine sent (psycopg's cursor
counted, as bench/probe does), transactions (claims: each opens one, a batch or an empty one),
the engine's Python CPU and its PostgreSQL backend's CPU (/proc; the server must be local).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import backend_cpu, callgrind, setup_django, tenant, under_callgrind  # noqa: E402

COUNT = {"statements": 0, "on": False}


def _count_statements() -> None:
    import psycopg

    for name in ("execute", "executemany", "copy"):
        original = getattr(psycopg.Cursor, name)

        def counted(self, *args, _original=original, **kwargs):  # type: ignore[no-untyped-def]
            if COUNT["on"]:
                COUNT["statements"] += 1
            return _original(self, *args, **kwargs)

        setattr(psycopg.Cursor, name, counted)


def main(n: int) -> None:
    setup_django()
    _count_statements()
    from django.utils import timezone

    from engine.actions.instances import start_instance
    from engine.actions.jobs import activate_jobs, complete_job
    from engine.definitions.deploy import Resource, deploy
    from engine.runtime import loop

    claims = {"n": 0}
    real_claim = loop._claim

    def counted_claim(limit: int):  # type: ignore[no-untyped-def]
        claims["n"] += 1
        return real_claim(limit)

    loop._claim = counted_claim  # type: ignore[assignment]
    t = tenant()
    source = (Path(__file__).resolve().parent.parent / "engine" / "demo" / "order-process.bpmn").read_bytes()
    _, (definition,) = deploy(t, [Resource("order.bpmn", source)], timezone.now())

    def start() -> None:
        start_instance(t, definition, {"orderId": "A-1", "amount": 42}, "bench", timezone.now())

    for _ in range(20):  # warm-up: caches, key block, prepared statements
        start()
        loop.drain()
    for job in activate_jobs([t.pk], "payment", "bench", 600_000, 1000, timezone.now()):
        complete_job([t.pk], job.key, {"paid": True}, "bench", timezone.now())
        loop.drain()

    spent = {"py": 0.0, "pg": 0.0}
    claims["n"] = 0

    def drained(first: bool, last: bool, label: str) -> None:
        c0, b0 = time.process_time(), backend_cpu()
        COUNT["on"] = True
        callgrind("on" if first else "resume")
        loop.drain()
        callgrind("off" if last else "pause", label)
        COUNT["on"] = False
        spent["py"] += time.process_time() - c0
        spent["pg"] += backend_cpu() - b0

    for i in range(n):
        start()
        drained(i == 0, i == n - 1, f"start-batch/{n}")
    for i, job in enumerate(activate_jobs([t.pk], "payment", "bench", 600_000, 1000, timezone.now())[:n]):
        complete_job([t.pk], job.key, {"paid": True}, "bench", timezone.now())
        drained(i == 0, i == n - 1, f"completion-batch/{n}")
    print(f"hello instances, each command drained alone: {n}")
    print(f"engine statements per instance:    {COUNT['statements'] / n:6.1f}")
    print(f"engine transactions per instance:  {claims['n'] / n:6.1f}  (claims)")
    print(f"engine Python CPU per instance:    {spent['py'] / n * 1e6:6.0f} µs")
    print(f"PostgreSQL CPU per instance:       {spent['pg'] / n * 1e6:6.0f} µs  (with two pid reads per drain)")
    print(f"load average (1 min):              {os.getloadavg()[0]:6.1f}")


if __name__ == "__main__":
    if "--instructions" in sys.argv:
        under_callgrind(__file__, sys.argv[1:], "batch")
    else:
        args = [a for a in sys.argv[1:] if not a.startswith("--")]
        main(int(args[0]) if args else 300)
