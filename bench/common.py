"""Shared set-up for benchmarks: a dedicated PostgreSQL database, migrated, with one tenant; percentiles; the
page benchmarks' timing loop (wall and CPU time per request, PostgreSQL's time of its statements)."""

from __future__ import annotations

import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flowsync_bench")


def setup_django() -> None:
    """Django on a freshly created, migrated bench database; with BENCH_REUSE=1 an existing one is kept (and
    migrated: new indexes are built on the filled tables), for benchmarks that skip a seed already there."""
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = BENCH_DB
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ["FLOWSYNC_ENGINE_INLINE"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "flowsync.settings"
    # A throwaway key per run (settings refuse a known one); the servers it starts inherit it.
    os.environ.setdefault("FLOWSYNC_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("FLOWSYNC_LOG_LEVEL", "WARNING")
    dbname = BENCH_DB.rsplit("/", 1)[1]
    admin = BENCH_DB.rsplit("/", 1)[0] + "/postgres"
    exists = subprocess.run(["psql", admin, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{dbname}'"],
                            check=True, capture_output=True, text=True).stdout.strip() == "1"
    if not (reused() and exists):
        subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"], check=True)
        subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {dbname}"], check=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def reused() -> bool:
    """BENCH_REUSE=1: keep the bench database of an earlier run (a seed of millions of rows takes minutes)."""
    return os.environ.get("BENCH_REUSE", "") == "1"


def tenant():  # type: ignore[no-untyped-def]
    from flowsync.models import Tenant

    return Tenant.objects.get_or_create(tenant_id="<default>", defaults={"name": "bench"})[0]



def backend_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL backend (/proc: the server runs on this machine)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    return process_cpu(pid)


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a local process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 50) * 1000:.1f} ms, p99 {percentile(values, 99) * 1000:.1f} ms, "
        f"mean {statistics.fmean(values) * 1000:.1f} ms"
    )


def db_ms(client, url: str) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    """Queries of one request and PostgreSQL's own execution time of them (EXPLAIN ANALYZE), in ms: with the
    machine shared, Python CPU + this is what the page costs without waiting for a core."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    total = 0.0
    with connection.cursor() as cur:
        for query in ctx.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            plan = cur.fetchone()[0]
            plan = plan[0] if isinstance(plan, list) else plan
            total += plan["Execution Time"] + plan["Planning Time"]
    return len(ctx.captured_queries), total


def sql_cpu_ms(client, url: str, repeat: int = 10) -> float:  # type: ignore[no-untyped-def]
    """PostgreSQL's CPU time for one request's SELECTs (its backend's user + system time from /proc, the
    statements run `repeat` times, mean in ms): unlike EXPLAIN ANALYZE's clock, it does not grow while the
    backend waits for a core, so it holds on a loaded machine (resolution: a clock tick / repeat)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    selects = [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    with connection.cursor() as cur:
        before = backend_cpu()
        for _ in range(repeat):
            for sql in selects:
                cur.execute(sql)
                cur.fetchall()
        return (backend_cpu() - before) / repeat * 1000


# -- the page benchmarks' timing loop (bench/inspector_pages.py, bench/tasklist_pages.py) -------------------
# Wall time of a request through Django's test client in this process, and this thread's CPU time of it
# (Django, template, driver): with the machine shared, wall time mostly measures the wait for a core, CPU
# time plus PostgreSQL's own time (db_ms, sql_ms) is what the page costs.


@dataclass
class Timings:
    wall: list[float] = field(default_factory=list)  # seconds per request
    cpu: list[float] = field(default_factory=list)  # this thread's CPU seconds per request


def timed_get(client, url: str, into: Timings | None = None):  # type: ignore[no-untyped-def]
    """GET url (must answer 200); its wall and CPU seconds are appended to `into`. Returns the response."""
    c0, t0 = time.thread_time(), time.perf_counter()
    response = client.get(url)
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    assert response.status_code == 200, (url, response.status_code)
    if into is not None:
        into.wall.append(wall)
        into.cpu.append(cpu)
    return response


def measure(client, url: str, n: int, warm: int = 3) -> Timings:  # type: ignore[no-untyped-def]
    """n requests of url, after `warm` untimed ones (caches: compiled graphs, templates, connection)."""
    for _ in range(warm):
        timed_get(client, url)
    timings = Timings()
    for _ in range(n):
        timed_get(client, url, timings)
    return timings


def walk(client, url: str, pages: int) -> Timings:  # type: ignore[no-untyped-def]
    """Follow the page's Next link (context `next_url`, a query string) up to `pages` pages, timing each."""
    timings = Timings()
    for _ in range(pages):
        response = timed_get(client, url, timings)
        nxt = response.context["next_url"]
        if not nxt:
            break
        url = url.split("?")[0] + nxt
    return timings


def fmt(values: list[float]) -> str:
    """p50 and p99 in milliseconds, fixed width for tables."""
    return f"p50 {percentile(values, 50) * 1000:6.1f} p99 {percentile(values, 99) * 1000:6.1f}"


def sql_ms(client, url: str, repeat: int = 5) -> tuple[int, list[float]]:  # type: ignore[no-untyped-def]
    """db_ms `repeat` times: the request's statement count and PostgreSQL's time of them per repetition (ms)."""
    runs = [db_ms(client, url) for _ in range(repeat)]
    return runs[-1][0], [ms for _, ms in runs]


# -- instructions instead of CPU time ----------------------------------------------------------------
# CPU time per request or per batch varies ±20 % from one run to the next on a shared host (its cores change
# speed); the machine instructions a piece of code executes do not. `under_callgrind` runs a benchmark again
# under valgrind's callgrind with counting off, and the benchmark brackets what it measures with
# `callgrind("on")` / `callgrind("off", "name/count")`; each bracket becomes a dump, printed per unit.
CALLGRIND_DIR = os.environ.get("BENCH_CALLGRIND_DIR")  # set in the run under callgrind


def under_callgrind(script: str, argv: list[str], unit: str) -> None:
    out = Path(tempfile.mkdtemp(prefix="bench-callgrind-"))
    env = {**os.environ, "BENCH_CALLGRIND_DIR": str(out), "PYTHONMALLOC": "malloc"}
    subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}/cg.%p",
                    sys.executable, script, *[a for a in argv if a != "--instructions"]], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"{'measured':22} {'instructions / ' + unit:>28}")
    for dump in sorted(out.glob("cg.*.*"), key=lambda p: int(p.name.rsplit(".", 1)[1])):
        text = dump.read_text(errors="replace")
        label = next(line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith("desc: Trigger:"))
        total = max(int(line.split()[1]) for line in text.splitlines() if line.startswith(("summary:", "totals:")))
        name, _, count = label.rpartition("/")  # "desc: Trigger: dump create/320"
        print(f"{name:22} {total / int(count):28,.0f}")
    shutil.rmtree(out, ignore_errors=True)


def callgrind(switch: str, label: str = "") -> None:
    """Counting "on" (from zero), "pause", "resume", or "off" (and dumped as `label`, "name/count");
    nothing outside callgrind."""
    if not CALLGRIND_DIR:
        return
    pid = str(os.getpid())
    steps = {"on": [["--zero"], ["--instr=on"]], "pause": [["--instr=off"]], "resume": [["--instr=on"]],
             "off": [["--instr=off"], [f"--dump={label}"]]}[switch]
    for step in steps:
        subprocess.run(["callgrind_control", *step, pid], check=True, capture_output=True)
