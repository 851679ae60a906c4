"""Where a webhook-started flow run's CPU goes, part by part, in one process (no HTTP server, no RQ):

    BENCH_DATABASE_URL=postgres://.../flowsync_bench .venv/bin/python bench/flow_webhook_parts.py [runs] [batch]

The same flow as bench/flow_webhook.py. For `runs` deliveries, in rounds of `batch` (what the engine
sees at once under load): the webhook view (Django's test client: middleware, view, action), the
engine's first batch (start → the http job), the connector run (activate, call the local stub,
complete) and the engine's second batch (completion → end). Prints, per part and per run, this
process's CPU time and the SQL statements it sent (PostgreSQL's own CPU is not in these figures).
"""

from __future__ import annotations

import collections
import json
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import setup_django, tenant  # noqa: E402
from flow_webhook import Stub, flow  # noqa: E402

SHOW = False


def main(runs: int, batch: int) -> None:
    setup_django()
    import psycopg
    from django.conf import settings
    from django.test import Client
    from django.utils import timezone

    from engine.actions.flows import deploy_flow, signature
    from engine.connectors import runner
    from engine.models import FlowTrigger, ProcessInstance
    from engine.runtime.loop import drain

    settings.CONNECTOR_HTTP_ALLOW = "127.0.0.1"
    settings.ALLOWED_HOSTS = ["*"]
    settings.FLOWSYNC_BACKPRESSURE_ENGINE_LAG_MS = 0  # deliveries go in while no engine runs
    runner._start = lambda tenants: True  # the harness runs the connectors itself, not through RQ
    statements: collections.Counter[str] = collections.Counter()
    for cls in (psycopg.Cursor,):  # ClientCursor inherits these
        for name in ("execute", "executemany", "copy"):
            original = getattr(cls, name)

            def counted(self, *args, _original=original, _name=name, **kwargs):  # type: ignore[no-untyped-def]
                statements[_name] += 1
                if SHOW:
                    print(f"  [{_name}] {str(args[0])[:300]}")
                return _original(self, *args, **kwargs)

            setattr(cls, name, counted)
    stub = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    stub.daemon_threads = True
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    owner = tenant()
    deploy_flow(owner, flow(f"http://127.0.0.1:{stub.server_address[1]}/notify"), timezone.now())
    hook = FlowTrigger.objects.get(flow_id="bench_webhook", trigger_id="in")
    client = Client()
    parts = ("webhook", "engine 1", "connectors", "engine 2")
    cpu = dict.fromkeys(parts, 0.0)
    sent = dict.fromkeys(parts, 0)

    def measure(part: str, work) -> None:  # type: ignore[no-untyped-def]
        before, count = time.process_time(), sum(statements.values())
        work()
        cpu[part] += time.process_time() - before
        sent[part] += sum(statements.values()) - count

    def deliver(n: int) -> None:
        body = json.dumps({"id": str(n), "qty": n % 7, "price": 30}).encode()
        stamp = str(int(time.time()))
        resp = client.post(f"/api/flows/hooks/{hook.token}", data=body, content_type="application/json",
                           headers={"X-FlowSync-Timestamp": stamp, "X-FlowSync-Delivery": f"p{n}",
                                    "X-FlowSync-Signature": signature(hook.secret, stamp, body)})
        assert resp.status_code == 202, resp.content

    for warm in range(2):
        for n in range(0, runs, batch):
            first = warm * runs
            measure("webhook", lambda n=n, first=first: [deliver(first + i) for i in range(n, min(runs, n + batch))])
            measure("engine 1", drain)
            measure("connectors", lambda: runner.run_connectors([owner.pk]))
            measure("engine 2", drain)
        if warm == 0:
            cpu, sent = dict.fromkeys(parts, 0.0), dict.fromkeys(parts, 0)
            statements.clear()
    if "--profile" in sys.argv:  # cProfile of each part, over another round of runs
        import cProfile
        import pstats

        for part, work in (("webhook", lambda: [deliver(2 * 10**6 + i) for i in range(runs)]), ("engine 1", drain),
                           ("connectors", lambda: runner.run_connectors([owner.pk])), ("engine 2", drain)):
            profile = cProfile.Profile(time.process_time)
            profile.runcall(work)
            print(f"== {part}")
            pstats.Stats(profile).sort_stats("cumulative").print_stats(70)
    if "-v" in sys.argv:  # the statements of one run, part by part
        global SHOW
        SHOW = True
        for part, work in (("webhook", lambda: deliver(10**6)), ("engine 1", drain),
                           ("connectors", lambda: runner.run_connectors([owner.pk])), ("engine 2", drain)):
            print(part)
            work()
        SHOW = False
    done = ProcessInstance.objects.filter(state="COMPLETED").count()
    started = ProcessInstance.objects.count()
    assert done == started, f"{done} of {started} runs completed"
    total = sum(cpu.values())
    for part in parts:
        print(f"{part:11s} {cpu[part] * 1000 / runs:6.2f} ms CPU, {sent[part] / runs:5.1f} statements per run")
    print(f"{'total':11s} {total * 1000 / runs:6.2f} ms CPU, {sum(sent.values()) / runs:5.1f} statements per run "
          f"({runs} runs in rounds of {batch}; {dict(statements)})")
    stub.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200, int(sys.argv[2]) if len(sys.argv) > 2 else 4)
