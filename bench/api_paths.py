"""CPU per request of the hot API paths, in process: create, activate, complete (issue #16).

    .venv/bin/python bench/api_paths.py [requests] [rounds] [--profile create|activate|complete]
    .venv/bin/python bench/api_paths.py [requests] --instructions

`--instructions` runs the same under valgrind's callgrind and prints the machine instructions per
request of each path instead of CPU time: slow (~50×), but the same figure on a busy machine, where
CPU time per request varies ±20 % from one run to the next (a shared host's cores change speed).

Calls Django's WSGI application directly (every middleware, DRF, authentication, the real
PostgreSQL and Redis; no HTTP server) with the exact requests the official client sends, and
prints per request: this process's CPU (µs), the PostgreSQL backend's CPU (µs, from /proc) and
statements sent. The engine runs in process between the phases (not counted) so that the
activations and completions have jobs. Process CPU survives a busy machine better than wall
clock does; each figure is the median of `rounds` rounds.
"""

from __future__ import annotations

import base64
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, callgrind, process_cpu, setup_django, tenant, under_callgrind  # noqa: E402


def main() -> None:
    if "--instructions" in sys.argv:
        return under_callgrind(__file__, sys.argv[1:], "request")
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    profile = sys.argv[sys.argv.index("--profile") + 1] if "--profile" in sys.argv else None
    if profile:
        args = [a for a in args if a != profile]
    n = int(args[0]) if args else 320
    rounds = int(args[1]) if len(args) > 1 else 3
    os.environ.setdefault("FLOWSYNC_API_RATE_LIMIT", "0")  # as bench/e2e_http.py: the path, not the limit
    os.environ.setdefault("FLOWSYNC_BACKPRESSURE_ENGINE_LAG_MS", "0")  # the engine runs between the phases
    os.environ.setdefault("FLOWSYNC_BACKPRESSURE_JOB_LAG_MS", "0")  # and the jobs wait between them
    setup_django()
    from django.core.wsgi import get_wsgi_application
    from django.db import connection
    from django.utils import timezone

    from engine.definitions.deploy import Resource, deploy
    from engine.runtime.loop import drain
    from flowsync.models import ApiKey

    t = tenant()
    deploy(t, [Resource("order.bpmn", (ROOT / "engine/demo/order-process.bpmn").read_bytes())], timezone.now())
    key, secret = ApiKey.issue(t, "bench")
    auth = "Basic " + base64.b64encode(f"{key.client_id}:{secret}".encode()).decode()
    app = get_wsgi_application()
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pg_pid = cur.fetchone()[0]
    statements = [0]
    # Every statement this process sends (Django's and the raw psycopg ones), as bench/probe counts them.
    import psycopg

    plain_execute = psycopg.Cursor.execute

    def execute(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
        statements[0] += 1
        return plain_execute(self, query, params, **kwargs)

    psycopg.Cursor.execute = execute  # type: ignore[method-assign]

    def call(path: str, body: bytes) -> tuple[int, bytes]:
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000", "HTTP_AUTHORIZATION": auth,
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)), "HTTP_ACCEPT": "application/json",
            "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        }
        got: list[int] = []
        out = app(environ, lambda status, headers, exc_info=None: got.append(int(status[:3])))
        data = b"".join(out)
        if hasattr(out, "close"):
            out.close()
        return got[0], data

    def measure(label: str, requests: list[tuple[str, bytes]], per: int = 1) -> tuple[float, float, float]:
        statements[0] = 0
        pg0, cpu0 = process_cpu(pg_pid), time.process_time()
        prof = cProfile.Profile(time.thread_time) if profile == label else None  # CPU, not waits
        if prof:
            prof.enable()
        callgrind("on")
        for path, body in requests:
            status, data = call(path, body)
            if status >= 300:
                raise SystemExit(f"{label}: {status} {data[:300]!r}")
        callgrind("off", f"{label}/{len(requests)}")
        if prof:
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(70)
        cpu, pg = time.process_time() - cpu0, process_cpu(pg_pid) - pg0
        k = len(requests) * per
        return cpu / k * 1e6, pg / k * 1e6, statements[0] / k

    create_body = json.dumps({"processDefinitionId": "order-process", "variables": {"createdAt": 1.5}}).encode()
    results: dict[str, list[tuple[float, float, float]]] = {"create": [], "activate (per job)": [], "complete": []}
    call("/v2/process-instances", create_body)  # warm: URLconf, caches, prepared statements
    drain()
    for _ in range(rounds):
        results["create"].append(measure("create", [("/v2/process-instances", create_body)] * n))
        drain()
        batch = json.dumps({"type": "payment", "worker": "w", "timeout": 60_000, "maxJobsToActivate": 32,
                            "requestTimeout": -1}).encode()
        keys: list[str] = []
        statements[0] = 0
        pg0, cpu0 = process_cpu(pg_pid), time.process_time()
        if True:
            while len(keys) < n:
                status, data = call("/v2/jobs/activation", batch)
                jobs = json.loads(data)["jobs"]
                if not jobs:
                    break
                keys += [j["jobKey"] for j in jobs]
        results["activate (per job)"].append(((time.process_time() - cpu0) / len(keys) * 1e6,
                                              (process_cpu(pg_pid) - pg0) / len(keys) * 1e6,
                                              statements[0] / len(keys)))
        done = json.dumps({"variables": {"paid": True}}).encode()
        results["complete"].append(measure("complete", [(f"/v2/jobs/{k}/completion", done) for k in keys]))
        drain()
    print(f"{n} requests a phase, median of {rounds} rounds; CPU µs per request (activation: per job, "
          f"batches of 32)")
    print(f"{'path':22} {'web CPU µs':>11} {'PG CPU µs':>10} {'statements':>11}")
    for name, rows in results.items():
        print(f"{name:22} {statistics.median(r[0] for r in rows):11.0f} {statistics.median(r[1] for r in rows):10.0f}"
              f" {statistics.median(r[2] for r in rows):11.2f}")


if __name__ == "__main__":
    main()
