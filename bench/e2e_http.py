"""End to end over HTTP: create → activate → complete, as users meet FlowSync (issue #16).

    .venv/bin/python bench/e2e_http.py [--checkout DIR ...] [--mode unbounded|rate|overload|soak]
                                      [--rate R] [--seconds S] [--engines 2] [--web 2x16]
                                      [--server gunicorn|granian ...]

For each checkout (default: the tree this script is in; give `--checkout` twice, e.g. a
worktree of main and this branch, for a before/after from the same run) it makes a fresh
database, migrates it with that checkout's code, starts that checkout's gunicorn and engine
workers, and drives them from outside:

- creators `POST /v2/process-instances` of the reference process (start → service task
  `payment` → end), stamping each with the time it was sent (`createdAt`);
- two job worker processes long-poll `POST /v2/jobs/activation` (batches of 32) and complete
  every job with `POST /v2/jobs/{key}/completion` on a pool of 8 threads, polling again at
  once — what the official client's job worker does.

Modes: `unbounded` (closed loop, as fast as the creators get answers), `rate` (open loop at
`--rate` instances/s), `overload` (open loop at 4 × `--rate`: refusals must be fast 429/503
with Retry-After and everything accepted must complete) and `soak` (`rate` for long, RSS
sampled as it goes). A warm-up runs first and is drained before the measured window.

Counted in the window, per completed instance: SQL statements the web and engine processes
sent (bench/probe/sitecustomize.py wraps psycopg's cursor in the processes it starts; the
tree under test is not changed), transactions (pg_stat_database), and CPU time of each
process group (/proc: gunicorn master and workers, engine workers, the PostgreSQL backends
of the bench database, the benchmark's own clients). CPU per instance and statements per
instance stay meaningful on a busy machine; throughput and latency need an idle one.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import leanhttp

HERE = Path(__file__).resolve().parent
PROBE = HERE / "probe"
SIZE_EVERY = 30.0  # seconds between table-size samples in soak mode
BENCH_DB = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flowsync_bench")
BPMN_FILE = "engine/demo/order-process.bpmn"  # process id order-process, job type payment
JOB_TYPE = "payment"
WARMUP_SECONDS = 4.0
SERVER = ("web", "engine", "postgres")
TICK = os.sysconf("SC_CLK_TCK")

SETUP = """
import json
from django.utils import timezone
from engine.definitions.deploy import Resource, deploy
from flowsync.models import ApiKey, Tenant
t = Tenant.objects.get_or_create(tenant_id="<default>", defaults={"name": "bench"})[0]
_, (d,) = deploy(t, [Resource("order.bpmn", open(%r, "rb").read())], timezone.now())
key, secret = ApiKey.issue(t, "bench")
print("SETUP" + json.dumps({"client_id": key.client_id, "secret": secret, "definition": d.bpmn_process_id}))
"""


# -- processes ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_table() -> dict[int, tuple[str, int, float, int]]:
    """pid → (name, parent pid, user + system CPU seconds, RSS bytes) of every process."""
    out = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        rest = stat[stat.rindex(")") + 2:].split()
        out[int(entry)] = (name, int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK, int(rest[21]) * page)
    return out


def descendants(table: dict[int, tuple[str, int, float, int]], roots: set[int]) -> set[int]:
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, (_, parent, _, _) in table.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return found


# -- load generators (forked processes) -----------------------------------------------------------
# Lean on purpose (bench/leanhttp.py): persistent raw HTTP/1.1 keep-alive sockets, request bytes
# built once, no per-request client objects, so the clients' CPU is a small part of the figure.
def _split(base: str) -> tuple[str, int, str]:
    host_port, _, prefix = base.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    return host, int(port or 80), "/" + prefix


def _creator(base: str, auth: tuple[str, str], process_id: str, rate: float, seconds: float, threads: int,
             out) -> None:  # type: ignore[no-untyped-def]
    """rate 0: closed loop on `threads` threads; else open loop at `rate`/s (refusals are not retried)."""
    host, port, root = _split(base)
    prefix = leanhttp.request_prefix("POST", root + "/process-instances", host, port, auth)
    # Only createdAt varies: the body is the fixed JSON around one number.
    body_head = b'{"processDefinitionId":' + json.dumps(process_id).encode() + b',"variables":{"createdAt":'
    results: list[tuple[float, float, int, bool]] = []  # (sent at, latency, status, had Retry-After)
    end = time.monotonic() + seconds
    local = threading.local()

    def one() -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = leanhttp.Connection(host, port, 30)
        sent = time.time()
        t0 = time.perf_counter()
        try:
            status, head, _ = conn.request(leanhttp.build(prefix, body_head + repr(sent).encode() + b"}}"))
            retry = status in (429, 503) and leanhttp.header(head, b"retry-after") is not None
        except (leanhttp.Closed, OSError):
            status, retry = 0, False  # a timeout or a refused connection: the worst answer
        results.append((sent, time.perf_counter() - t0, status, retry))  # list.append is atomic

    if rate <= 0:
        def loop() -> None:
            while time.monotonic() < end:
                one()
        workers = [threading.Thread(target=loop) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    else:
        pool = ThreadPoolExecutor(max_workers=threads)
        start, n = time.monotonic(), 0
        while time.monotonic() < end:
            pool.submit(one)
            n += 1
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
        pool.shutdown(wait=True)
    # Creators exit before the closing snapshot of /proc: each reports its own CPU (all threads).
    out.put(("created", results, time.process_time()))


JOBS_ACTIVE = 32  # the official worker's maxJobsActive
POLL_THRESHOLD = 0.3  # … and its pollThreshold: activate again when ≤ 30 % of that is still in hand
COMPLETERS = 8  # the handler threads (the official worker's executor)


def _job_worker(base: str, auth: tuple[str, str], name: str, poll_ms: int, stop, out) -> None:  # type: ignore[no-untyped-def]
    """The official client's job worker: long-poll for as many jobs as it has room for (batches of up to
    32), complete each on a handler thread, and poll again once few are left in hand."""
    host, port, root = _split(base)
    activate_prefix = leanhttp.request_prefix("POST", root + "/jobs/activation", host, port, auth)
    complete_head = leanhttp.request_prefix("POST", root + "/jobs/", host, port, auth)
    # The completion's path holds the job key: split the prefix around it once.
    at = complete_head.index(b"/jobs/") + len(b"/jobs/")
    complete_before, complete_after = complete_head[:at], b"/completion" + complete_head[at:]
    completion_body = b'{"variables":{"paid":true}}'
    completion_tail = str(len(completion_body)).encode() + b"\r\n\r\n" + completion_body
    received: list[tuple[float, float]] = []  # (createdAt, received at)
    completions: list[tuple[float, int]] = []
    todo: queue.SimpleQueue[str | None] = queue.SimpleQueue()
    room = threading.Semaphore(0)  # released per finished job: the poller counts jobs in hand
    in_hand = [0]
    lock = threading.Lock()

    def completer() -> None:
        conn = leanhttp.Connection(host, port, 30)
        while True:
            key = todo.get()
            if key is None:
                return
            raw = complete_before + key.encode() + complete_after + completion_tail
            t0 = time.perf_counter()
            status = 0
            for _ in range(20):  # a 429/503 is retried after its Retry-After, as the client does
                try:
                    status = conn.request(raw)[0]
                except (leanhttp.Closed, OSError):
                    status = 0
                if status not in (0, 429, 503):
                    break
                time.sleep(0.2)
            completions.append((time.perf_counter() - t0, status))
            with lock:
                in_hand[0] -= 1
            room.release()

    threads = [threading.Thread(target=completer, daemon=True) for _ in range(COMPLETERS)]
    for t in threads:
        t.start()
    poll = leanhttp.Connection(host, port, poll_ms / 1000 + 30)
    threshold = round(JOBS_ACTIVE * POLL_THRESHOLD)
    while not stop.is_set():
        with lock:
            hand = in_hand[0]
        if hand > threshold:
            room.acquire(timeout=0.5)  # wait for handlers to finish some before asking for more
            continue
        body = b'{"type":"%s","worker":"%s","timeout":60000,"maxJobsToActivate":%d,"requestTimeout":%d}' % (
            JOB_TYPE.encode(), name.encode(), JOBS_ACTIVE - hand, poll_ms)
        try:
            status, _, answer = poll.request(leanhttp.build(activate_prefix, body))
        except (leanhttp.Closed, OSError):
            time.sleep(0.2)
            continue
        if status != 200:
            time.sleep(0.2)
            continue
        jobs = json.loads(answer)["jobs"]
        if not jobs:
            continue
        at = time.time()
        with lock:
            in_hand[0] += len(jobs)
        for job in jobs:
            received.append((float(job["variables"].get("createdAt", at)), at))
            todo.put(job["jobKey"])
    for _ in threads:
        todo.put(None)
    for t in threads:
        t.join()
    out.put(("received", (received, completions)))


# -- one run against one checkout -----------------------------------------------------------------
class Run:
    def __init__(self, checkout: Path, args: argparse.Namespace):
        self.dir = checkout
        self.args = args
        self.db = BENCH_DB
        self.probe_dir = Path(tempfile.mkdtemp(prefix="flowsync-probe-"))
        self.procs: list[subprocess.Popen] = []  # type: ignore[type-arg]
        self.env = {
            **os.environ,
            "DATABASE_URL": self.db,
            "DJANGO_SETTINGS_MODULE": "flowsync.settings",
            "FLOWSYNC_ENGINE_INLINE": "0",
            "FLOWSYNC_LOG_LEVEL": "WARNING",
            # The tenant rate limit is off unless asked for: the path is measured, not the limit.
            "FLOWSYNC_API_RATE_LIMIT": os.environ.get("FLOWSYNC_API_RATE_LIMIT", "0"),
            "FLOWSYNC_SECRET_KEY": os.environ.get("FLOWSYNC_SECRET_KEY", "bench-" + "x" * 60),
            "FLOWSYNC_BENCH_PROBE_DIR": str(self.probe_dir),
            # Engine-lag backpressure (a checkout without it ignores this): off unless overload is the
            # point, so that every mode but `overload` measures the same work in every checkout.
            "FLOWSYNC_BACKPRESSURE_ENGINE_LAG_MS": str(args.lag_ms if args.lag_ms is not None
                                                       else (1000 if args.mode == "overload" else 0)),
            # Job hand-off backpressure likewise (its default, 250, in overload; 500 before session 7).
            "FLOWSYNC_BACKPRESSURE_JOB_LAG_MS": str(args.job_lag_ms if args.job_lag_ms is not None
                                                    else (250 if args.mode == "overload" else 0)),
            "PYTHONPATH": str(PROBE),
        }
        self.env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
        self.python = str(checkout / ".venv" / "bin" / "python") if (checkout / ".venv").exists() else sys.executable

    def psql(self, sql: str, db: str | None = None) -> str:
        return subprocess.run(["psql", db or self.db, "-Atqc", sql], check=True, capture_output=True,
                              text=True).stdout.strip()

    def setup(self) -> dict[str, str]:
        name = self.db.rsplit("/", 1)[1]
        admin = self.db.rsplit("/", 1)[0] + "/postgres"
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", admin)
        self.psql(f"CREATE DATABASE {name}", admin)
        env = {k: v for k, v in self.env.items() if k != "FLOWSYNC_BENCH_PROBE_DIR"}
        subprocess.run([self.python, "manage.py", "migrate", "-v0"], cwd=self.dir, env=env, check=True)
        code = SETUP % str(self.dir / BPMN_FILE)
        out = subprocess.run([self.python, "manage.py", "shell", "-c", code], cwd=self.dir, env=env, check=True,
                             capture_output=True, text=True).stdout
        return json.loads(out.split("SETUP", 1)[1])

    def start(self) -> str:
        port = free_port()
        workers, threads = self.args.web.split("x")
        if self.args.server == "granian":  # the same WSGI application, granian's workers and threads
            command = [str(Path(self.python).parent / "granian"), "--interface", "wsgi", "flowsync.wsgi:application",
                       "--host", "127.0.0.1", "--port", str(port), "--workers", workers,
                       "--blocking-threads", threads, "--log-level", "warning", "--no-access-log"]
        else:
            command = [self.python, "-m", "gunicorn", "flowsync.wsgi:application", "--bind", f"127.0.0.1:{port}",
                       "--workers", workers, "--threads", threads, "--log-level", "warning"]
        self.procs.append(subprocess.Popen(command, cwd=self.dir, env=self.env))
        for _ in range(self.args.engines):
            self.procs.append(subprocess.Popen([self.python, "manage.py", "engine_worker"], cwd=self.dir,
                                               env=self.env))
        base = f"http://127.0.0.1:{port}/v2"
        import httpx

        for _ in range(300):
            try:
                if httpx.get(base + "/status", timeout=2).status_code == 204:
                    return base
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not come up")

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=40)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.probe_dir, ignore_errors=True)

    # measurements
    def completed(self) -> int:
        return int(self.psql("SELECT count(*) FROM engine_processinstance WHERE state = 'COMPLETED'"))

    def instances(self) -> int:
        return int(self.psql("SELECT count(*) FROM engine_processinstance"))

    def transactions(self) -> int:
        name = self.db.rsplit("/", 1)[1]
        return int(self.psql(f"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{name}'"))

    def backends(self) -> set[int]:
        name = self.db.rsplit("/", 1)[1]
        rows = self.psql(f"SELECT pid FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()")
        return {int(p) for p in rows.split()}

    def statements(self) -> dict[int, dict[str, int]]:
        found = {}
        for f in self.probe_dir.glob("*.json"):
            try:
                found[int(f.stem)] = json.loads(f.read_text())
            except (ValueError, OSError):
                continue
        return found

    def table_sizes(self) -> dict[str, tuple[int, int, int]]:
        """{table: (bytes with indexes and TOAST, live rows, dead rows)} of the bench database."""
        rows = self.psql("SELECT relname, pg_total_relation_size(relid), n_live_tup, n_dead_tup "
                         "FROM pg_stat_user_tables")
        sizes = {}
        for line in rows.splitlines():
            name, size, live, dead = line.split("|")
            sizes[name] = (int(size), int(live), int(dead))
        return sizes

    def snapshot(self) -> dict[str, object]:
        time.sleep(0.5)  # the probes write every 0.2 s
        return {"procs": proc_table(), "backends": self.backends(), "statements": self.statements(),
                "xacts": self.transactions(), "completed": self.completed(), "at": time.monotonic()}

    def wait_drained(self, accepted: int, timeout: float = 120) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.completed() >= accepted:
                return True
            time.sleep(0.3)
        return False


def groups_of(run: Run, table: dict, bench_pids: set[int], backends: set[int]) -> dict[str, set[int]]:  # type: ignore[type-arg]
    # "bench" is the load generators only (creators and job workers). The orchestrating process is
    # "monitor": it is the parent of the servers too, so its descendants would count them twice (an
    # earlier version of this script did, reporting ~6 ms of "client" CPU per instance).
    return {
        "web": descendants(table, {run.procs[0].pid}),
        "engine": descendants(table, {p.pid for p in run.procs[1:]}),
        "postgres": backends,
        "bench": descendants(table, bench_pids),
        "monitor": {os.getpid()},
    }


def measure(checkout: Path, args: argparse.Namespace) -> dict[str, object]:
    run = Run(checkout, args)
    creds = run.setup()
    auth = (creds["client_id"], creds["secret"])
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    stop = ctx.Event()
    try:
        base = run.start()
        job_workers = [ctx.Process(target=_job_worker, args=(base, auth, f"w{i}", args.poll_ms, stop, out))
                       for i in range(args.job_workers)]
        for w in job_workers:
            w.start()
        rate = {"unbounded": 0.0, "rate": args.rate, "soak": args.rate, "overload": 4 * args.rate}[args.mode]
        seconds = args.seconds if args.mode != "soak" else max(args.seconds, 60)
        per = rate / args.creators

        def creators(secs: float) -> list:  # type: ignore[type-arg]
            ps = [ctx.Process(target=_creator, args=(base, auth, creds["definition"], per, secs, args.threads, out))
                  for _ in range(args.creators)]
            for p in ps:
                p.start()
            return ps

        # Warm-up at a gentle rate (connections, prepared statements, caches), drained, not counted.
        warm = [ctx.Process(target=_creator, args=(base, auth, creds["definition"], 20.0, WARMUP_SECONDS, 8, out))]
        for p in warm:
            p.start()
        for p in warm:
            p.join()
        tag, warm_results, _ = out.get()
        run.wait_drained(sum(1 for r in warm_results if 200 <= r[2] < 300))
        bench_pids = {w.pid for w in job_workers}
        before = run.snapshot()
        rss_samples: list[tuple[float, int, int]] = []
        # Soak: the database's tables every SIZE_EVERY seconds, to tell rows the instances need
        # (growing in step with completed instances) from growth that is not (a queue never emptied).
        size_samples: list[tuple[float, int, dict[str, tuple[int, int, int]]]] = []
        next_size = 0.0
        ps = creators(seconds)
        bench_pids |= {p.pid for p in ps}
        t0 = time.monotonic()
        during_backends: set[int] = set()
        # CPU each process had when last seen: a backend whose connection closed during a long run (Django
        # recycles them) is gone from /proc at the end, but its work counts.
        last_cpu: dict[int, float] = {}
        # Results are read while the creators run: a creator with a large result cannot exit
        # until its queue is drained (its feeder thread blocks on the full pipe).
        created: list = []  # type: ignore[type-arg]
        creators_cpu = 0.0
        finished = 0
        while finished < len(ps):
            try:
                _, got, spent = out.get(timeout=1.0)
                created += got
                creators_cpu += spent
                finished += 1
                continue
            except queue.Empty:
                pass
            during_backends |= run.backends()
            if args.mode == "soak" and time.monotonic() - t0 >= next_size:
                size_samples.append((time.monotonic() - t0, run.completed(), run.table_sizes()))
                next_size += SIZE_EVERY
            table = proc_table()
            last_cpu.update((pid, row[2]) for pid, row in table.items())
            g = groups_of(run, table, bench_pids, set())
            rss_samples.append((time.monotonic() - t0, max((table[p][3] for p in g["web"] if p in table), default=0),
                                max((table[p][3] for p in g["engine"] if p in table), default=0)))
        window_end = time.monotonic()
        completed_at_end = run.completed()
        for p in ps:
            p.join()
        accepted = sum(1 for r in created if 200 <= r[2] < 300)
        drained = run.wait_drained(before["completed"] + accepted, timeout=args.drain_timeout)  # type: ignore[operator]
        drain_s = time.monotonic() - window_end
        after = run.snapshot()
        stop.set()
        received, completions = [], []
        for _ in job_workers:
            _, (r, c) = out.get()
            received += r
            completions += c
        for w in job_workers:
            w.join()
        final = {pid: row[3] for pid, row in proc_table().items()}
    finally:
        stop.set()
        run.stop()

    table_b, table_a = before["procs"], after["procs"]  # type: ignore[index]
    backends = before["backends"] | during_backends | after["backends"]  # type: ignore[operator]
    groups = groups_of(run, {**table_b, **table_a}, bench_pids, backends)
    n = after["completed"] - before["completed"]  # type: ignore[operator]
    cpu: dict[str, float] = {}
    for name, pids in groups.items():
        spent = 0.0
        for pid in pids:
            at_end = table_a[pid][2] if pid in table_a else last_cpu.get(pid)
            if at_end is not None:
                spent += at_end - (table_b[pid][2] if pid in table_b else 0.0)
        cpu[name] = spent
    cpu["bench"] += creators_cpu  # the creators are gone from /proc by now (they report their own)
    stmts = 0
    stmts_by_group = {"web": 0, "engine": 0}
    by_text: dict[str, int] = {}
    sb, sa = before["statements"], after["statements"]  # type: ignore[index]
    for pid, probe in sa.items():
        old = sb.get(pid, {}).get("counts", {})
        group = "engine" if "engine_worker" in probe["argv"] else "web"
        for text, c in probe["counts"].items():
            d = c - old.get(text, 0)
            if d:
                stmts += d
                stmts_by_group[group] += d
                by_text[f"{group[0]} {text}"] = by_text.get(f"{group[0]} {text}", 0) + d
    t_start = min((r[0] for r in created), default=0)
    in_window = [r for r in created if 200 <= r[2] < 300]
    refused = [r for r in created if r[2] in (429, 503)]
    handoff = [at - c for c, at in received if c >= t_start]
    web_rss = [final.get(p, 0) for p in groups["web"] if p != run.procs[0].pid]
    engine_rss = [final.get(p, 0) for p in groups["engine"]]
    return {
        "checkout": str(checkout), "server": args.server, "mode": args.mode, "offered": rate, "seconds": seconds,
        "throughput": (completed_at_end - before["completed"]) / (window_end - t0),  # type: ignore[operator]
        "accepted": accepted, "refused": len(refused), "failed": len(created) - accepted - len(refused),
        # 0: no answer (a client timeout or a dropped connection)
        "failed_by_status": dict(Counter(r[2] for r in created if not 200 <= r[2] < 300 and r[2] not in (429, 503))),
        "refused_with_retry_after": sum(1 for r in refused if r[3]),
        "refusal_p99": pct([r[1] for r in refused], 99),
        "create_p50": pct([r[1] for r in in_window], 50), "create_p99": pct([r[1] for r in in_window], 99),
        "handoff_p50": pct(handoff, 50), "handoff_p99": pct(handoff, 99),
        "completion_p99": pct([c[0] for c in completions], 99),
        "completion_errors": sum(1 for c in completions if c[1] != 204),
        "drained": drained, "drain_s": drain_s, "lost": max(0, before["completed"] + accepted - after["completed"]),  # type: ignore[operator]
        "instances": n, "statements": stmts / max(n, 1),
        "statements_web": stmts_by_group["web"] / max(n, 1), "statements_engine": stmts_by_group["engine"] / max(n, 1),
        "xacts": (after["xacts"] - before["xacts"]) / max(n, 1),  # type: ignore[operator]
        "cpu_us": {k: v / max(n, 1) * 1e6 for k, v in cpu.items()},
        "rss_web_mb": max(web_rss, default=0) / 2**20, "rss_engine_mb": max(engine_rss, default=0) / 2**20,
        "rss_samples": rss_samples, "size_samples": size_samples,
        "top_statements": sorted(by_text.items(), key=lambda kv: -kv[1])[:args.top],
        "load": os.getloadavg(),
    }


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _cpu_column(group: str):  # type: ignore[no-untyped-def]
    return lambda r: f"{r['cpu_us'][group]:.0f}"


def report(results: list[dict[str, object]]) -> None:
    ms = lambda v: f"{v * 1000:.0f}"  # noqa: E731
    rows = [("checkout", lambda r: Path(r["checkout"]).name + ("" if r["server"] == "gunicorn" else " " + r["server"])),
            ("mode / offered PI/s", lambda r: f"{r['mode']} / {r['offered'] or 'closed loop'}"),
            ("completed PI/s (wall clock)", lambda r: f"{r['throughput']:.0f}"),
            ("accepted / refused / failed", lambda r: f"{r['accepted']} / {r['refused']} / {r['failed']}"),
            ("failed by status (0: no answer)",
             lambda r: ", ".join(f"{k}: {v}" for k, v in sorted(r["failed_by_status"].items())) or "-"),
            ("refusals with Retry-After, p99 ms",
             lambda r: f"{r['refused_with_retry_after']}, {ms(r['refusal_p99'])}" if r["refused"] else "-"),
            ("create p50 / p99 ms", lambda r: f"{ms(r['create_p50'])} / {ms(r['create_p99'])}"),
            ("hand-off p50 / p99 ms", lambda r: f"{ms(r['handoff_p50'])} / {ms(r['handoff_p99'])}"),
            ("completion call p99 ms, errors", lambda r: f"{ms(r['completion_p99'])}, {r['completion_errors']}"),
            ("drained after stop (s), lost", lambda r: f"{r['drain_s']:.1f}{'' if r['drained'] else ' NOT'}, "
                                                        f"{r['lost']}"),
            ("instances measured", lambda r: str(r["instances"])),
            ("SQL statements / instance (web + engine)",
             lambda r: f"{r['statements']:.1f} ({r['statements_web']:.1f} + {r['statements_engine']:.1f})"),
            ("transactions / instance", lambda r: f"{r['xacts']:.1f}"),
            *[(f"CPU µs / instance: {g}", _cpu_column(g)) for g in ("web", "engine", "postgres")],
            ("CPU µs / instance: server total",
             lambda r: f"{sum(v for k, v in r['cpu_us'].items() if k in SERVER):.0f}"),
            ("CPU µs / instance: bench clients", _cpu_column("bench")),
            ("CPU µs / instance: server + clients",
             lambda r: f"{sum(v for k, v in r['cpu_us'].items() if k in SERVER or k == 'bench'):.0f}"),
            ("CPU µs / instance: bench's own monitor", _cpu_column("monitor")),
            ("RSS max MB: web worker / engine", lambda r: f"{r['rss_web_mb']:.0f} / {r['rss_engine_mb']:.0f}"),
            ("load average (1, 5, 15 min)", lambda r: " ".join(f"{x:.1f}" for x in r["load"]))]
    width = max(len(name) for name, _ in rows)
    cols = [[fmt(r) for r in results] for _, fmt in rows]
    cw = max(len(c) for col in cols for c in col) + 2
    for (name, _), col in zip(rows, cols, strict=True):
        print(name.ljust(width), "".join(c.rjust(cw) for c in col))
    for r in results:
        if r["top_statements"]:
            print(f"\nmost sent statements per instance, {Path(r['checkout']).name}:")  # type: ignore[arg-type]
            for text, c in r["top_statements"]:  # type: ignore[union-attr]
                print(f"  {c / max(r['instances'], 1):6.2f}  {text}")  # type: ignore[operator]
        if r["mode"] == "soak":
            samples = r["rss_samples"]
            print("RSS over the run (s: web max MB / engine max MB): " + ", ".join(  # type: ignore[union-attr]
                f"{t:.0f}: {w / 2**20:.0f}/{e / 2**20:.0f}" for t, w, e in samples[:: max(1, len(samples) // 10)]))
            report_growth(r["size_samples"])  # type: ignore[arg-type]


def report_growth(samples: list[tuple[float, int, dict[str, tuple[int, int, int]]]]) -> None:
    """Bytes and rows per completed instance, per table, in the first and the second half of the soak.

    A table the instances need grows by about the same per instance in both halves; a queue or log
    that is emptied stays near zero; one that grows in the second half more than in the first (or
    grows while nothing completes) is a leak.
    """
    if len(samples) < 3:
        return
    first, mid, last = samples[0], samples[len(samples) // 2], samples[-1]
    print("\ntable growth per completed instance (first half | second half): bytes, live rows; dead rows at the end")
    tables = sorted(last[2], key=lambda t: -(last[2][t][0] - first[2].get(t, (0, 0, 0))[0]))
    for name in tables:
        cells = []
        for a, b in ((first, mid), (mid, last)):
            n = max(b[1] - a[1], 1)
            size_a, live_a, _ = a[2].get(name, (0, 0, 0))
            size_b, live_b, _ = b[2].get(name, (0, 0, 0))
            cells.append(f"{(size_b - size_a) / n:8.0f} B {(live_b - live_a) / n:6.2f}")
        if last[2][name][0] != first[2].get(name, (0, 0, 0))[0] or last[2][name][2]:
            print(f"  {name[:44]:44} {cells[0]} | {cells[1]}   dead {last[2][name][2]}")
    total = [sum(s[2][t][0] for t in s[2]) for s in (first, mid, last)]
    print(f"  whole database: {total[0] / 2**20:.0f} → {total[1] / 2**20:.0f} → {total[2] / 2**20:.0f} MB, "
          f"instances completed {first[1]} → {mid[1]} → {last[1]}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkout", action="append", type=Path, help="tree to run (repeat for before/after)")
    p.add_argument("--mode", choices=["unbounded", "rate", "overload", "soak"], default="rate")
    p.add_argument("--rate", type=float, default=100.0, help="offered PI/s (overload offers 4×)")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--creators", type=int, default=2, help="creator processes")
    p.add_argument("--threads", type=int, default=16, help="threads per creator")
    p.add_argument("--job-workers", type=int, default=2)
    p.add_argument("--poll-ms", type=int, default=10_000, help="the job workers' requestTimeout")
    p.add_argument("--engines", type=int, default=2, help="engine worker processes")
    p.add_argument("--web", default="2x16", help="gunicorn workers x threads (scripts/run.sh's default)")
    p.add_argument("--server", choices=["gunicorn", "granian"], action="append",
                   help="web server (default gunicorn; granian must be installed in the checkout's venv); once for "
                        "every checkout, or once per --checkout, in the same order")
    p.add_argument("--lag-ms", type=int, default=None,
                   help="FLOWSYNC_BACKPRESSURE_ENGINE_LAG_MS for the server (default: 1000 in overload, else 0)")
    p.add_argument("--job-lag-ms", type=int, default=None,
                   help="FLOWSYNC_BACKPRESSURE_JOB_LAG_MS for the server (default: 250 in overload, else 0)")
    p.add_argument("--drain-timeout", type=float, default=120.0)
    p.add_argument("--top", type=int, default=0, help="print the N most sent statements")
    p.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = p.parse_args()
    checkouts = args.checkout or [HERE.parent]
    servers = args.server or ["gunicorn"]
    if len(servers) not in (1, len(checkouts)):
        p.error("give --server once, or once per --checkout")
    results = [measure(c.resolve(), argparse.Namespace(**{**vars(args), "server": servers[min(i, len(servers) - 1)]}))
               for i, c in enumerate(checkouts)]
    report(results)
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "rss_samples"} for r in results], default=str))
    if any(r["lost"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
