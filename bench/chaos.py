"""Chaos under load: faults in turn while instances are created and worked through the API.

    .venv/bin/python bench/chaos.py [--seconds 60] [--rate 20] [--every 4] [--faults kill-backends,kill-web,...]

Runs gunicorn, engine workers and job workers (threads long-polling `POST /v2/jobs/activation`
and completing what they get) against a dedicated database (BENCH_DATABASE_URL, dropped and
created; default postgres://postgres@127.0.0.1:5432/flowsync_chaos). A producer creates
instances of start → service task → end at a steady rate, each with an `Idempotency-Key`
and the key as a variable; a create that fails (transport error, 5xx) is repeated with the
same key until acknowledged. Every `--every` seconds the next fault in the list happens:

  kill-backends    pg_terminate_backend of every connection to the database (what a
                   PostgreSQL restart does to them)
  kill-web         kill -9 of one gunicorn worker mid-request (the master starts another)
  kill-engine      kill -9 of one engine worker mid-batch, started again
  term-engine      SIGTERM to one engine worker (graceful), started again
  restart-postgres runs $CHAOS_PG_RESTART (e.g. "sudo systemctl restart postgresql"),
  restart-redis    runs $CHAOS_REDIS_RESTART; both only with --allow-restarts: they hit
                   everyone on the machine, never run them on a shared one

At the end it waits for the work to finish and prints: acknowledged, completed, lost
(acknowledged but missing or not completed), duplicated (one key, several instances),
every non-2xx answer by status (and transport errors), and per fault how long the
acknowledged-create rate took to get back to 80 % of what it was before.
Target: 0 lost, 0 duplicated, no 500, recovery within 5 s.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flowsync_chaos")
from common import BENCH_DB, ROOT, setup_django, tenant  # noqa: E402

SAFE_FAULTS = ("kill-backends", "kill-web", "kill-engine", "term-engine")
RESTART_FAULTS = ("restart-postgres", "restart-redis")
JOB_TIMEOUT_MS = 5000  # a job whose activation answer was lost is handed out again after this


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[str] = Counter()
        self.acked: dict[str, str] = {}  # idempotency key → instance key
        self.acked_at: list[float] = []
        self.gave_up = 0

    def answer(self, status: int | str) -> None:
        with self.lock:
            self.statuses[str(status)] += 1


class Cluster:
    def __init__(self, engine_workers: int, web_workers: int, database_url: str = BENCH_DB) -> None:
        from job_handoff import free_port

        self.env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "flowsync.settings",
                    "FLOWSYNC_ENGINE_INLINE": "0", "FLOWSYNC_LOG_LEVEL": "ERROR"}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.web = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "flowsync.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(web_workers), "--threads", "8", "--log-level", "error",
             "--config", str(ROOT / "gunicorn.conf.py")], cwd=ROOT, env=self.env)
        self.engines = [self._engine() for _ in range(engine_workers)]
        for _ in range(100):
            try:
                if httpx.get(self.url + "/v2/status", timeout=2).status_code == 204:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit("the web server did not start")

    def _engine(self) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "manage.py", "engine_worker"], cwd=ROOT, env=self.env)

    def web_workers(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.web.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def replace_engine(self, sig: int) -> None:
        victim = random.choice(self.engines)
        victim.send_signal(sig)
        try:
            victim.wait(timeout=30)
        except subprocess.TimeoutExpired:
            victim.kill()
        self.engines[self.engines.index(victim)] = self._engine()

    def stop(self) -> None:
        for proc in [self.web, *self.engines]:
            proc.send_signal(signal.SIGTERM)
        for proc in [self.web, *self.engines]:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def fault(name: str, cluster: Cluster) -> None:
    if name == "kill-backends":
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    elif name == "kill-web":
        workers = cluster.web_workers()
        if workers:
            os.kill(random.choice(workers), signal.SIGKILL)
    elif name == "kill-engine":
        cluster.replace_engine(signal.SIGKILL)
    elif name == "term-engine":
        cluster.replace_engine(signal.SIGTERM)
    elif name == "restart-postgres":
        subprocess.run(os.environ["CHAOS_PG_RESTART"], shell=True, check=False)
    elif name == "restart-redis":
        subprocess.run(os.environ["CHAOS_REDIS_RESTART"], shell=True, check=False)


def producer(url: str, auth: tuple[str, str], rate: float, stop: threading.Event, tally: Tally) -> None:
    with httpx.Client(base_url=url, auth=auth, timeout=30) as client:
        next_at = time.monotonic()
        while not stop.is_set():
            next_at += 1 / rate
            time.sleep(max(0.0, next_at - time.monotonic()))
            idem = str(uuid.uuid4())
            give_up = time.monotonic() + 60
            while time.monotonic() < give_up:
                try:
                    resp = client.post("/v2/process-instances", headers={"Idempotency-Key": idem},
                                       json={"processDefinitionId": "order-process", "variables": {"idem": idem}})
                    status: int | str = resp.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                    resp = None
                tally.answer(status)
                if resp is not None and resp.status_code == 200:
                    with tally.lock:
                        tally.acked[idem] = resp.json()["processInstanceKey"]
                        tally.acked_at.append(time.monotonic())
                    break
                time.sleep(0.2)
            else:
                tally.gave_up += 1


def job_worker(url: str, auth: tuple[str, str], stop: threading.Event, tally: Tally) -> None:
    with httpx.Client(base_url=url, auth=auth, timeout=30) as client:
        while not stop.is_set():
            try:
                resp = client.post("/v2/jobs/activation", json={
                    "type": "payment", "worker": "chaos", "maxJobsToActivate": 8, "timeout": JOB_TIMEOUT_MS,
                    "requestTimeout": 2000})
                tally.answer(resp.status_code)
                jobs = resp.json()["jobs"] if resp.status_code == 200 else []
            except httpx.HTTPError as exc:
                tally.answer(type(exc).__name__)
                time.sleep(0.2)
                continue
            for job in jobs:
                try:
                    done = client.post(f"/v2/jobs/{job['jobKey']}/completion", json={"variables": {"paid": True}})
                    tally.answer(done.status_code)
                except httpx.HTTPError as exc:
                    tally.answer(type(exc).__name__)  # the job times out and comes back


def recovery(acked_at: list[float], faults: list[tuple[float, str]]) -> list[tuple[str, float | None]]:
    """Per fault: seconds until the acknowledged-create rate (1 s windows) is back to 80 % of the 3 s before."""
    def rate(t0: float, t1: float) -> float:
        return sum(1 for t in acked_at if t0 <= t < t1) / max(t1 - t0, 1e-9)

    out = []
    for at, name in faults:
        before = rate(at - 3, at)
        back = None
        for step in range(0, 300):
            t = at + step * 0.1
            if before == 0 or rate(t, t + 1) >= 0.8 * before:
                back = round(t - at, 1)
                break
        out.append((name, back))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=20, help="creates per second")
    parser.add_argument("--every", type=float, default=4, help="seconds between faults")
    parser.add_argument("--faults", default=",".join(SAFE_FAULTS))
    parser.add_argument("--engine-workers", type=int, default=2)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--job-workers", type=int, default=4, help="long-polling job worker threads")
    parser.add_argument("--allow-restarts", action="store_true", help="allow restart-postgres/restart-redis")
    args = parser.parse_args()
    names = [f for f in args.faults.split(",") if f]
    unknown = set(names) - set(SAFE_FAULTS) - set(RESTART_FAULTS)
    if unknown:
        raise SystemExit(f"unknown faults: {', '.join(sorted(unknown))}")
    if set(names) & set(RESTART_FAULTS) and not args.allow_restarts:
        raise SystemExit("restart-postgres/restart-redis restart shared servers: pass --allow-restarts on purpose")

    setup_django()
    from django.db import connections
    from django.utils import timezone

    from engine.definitions.deploy import Resource, deploy
    from engine.models import Command, ProcessInstance, Variable
    from flowsync.models import ApiKey

    t = tenant()
    deploy(t, [Resource("order.bpmn", (ROOT / "tests/engine/bpmn/hello-service-task.bpmn").read_bytes())],
           timezone.now())
    key, secret = ApiKey.issue(t, "chaos")
    auth = (key.client_id, secret)
    connections.close_all()
    cluster = Cluster(args.engine_workers, args.web_workers)
    tally = Tally()
    stop = threading.Event()
    threads = [threading.Thread(target=producer, args=(cluster.url, auth, args.rate, stop, tally))]
    threads += [threading.Thread(target=job_worker, args=(cluster.url, auth, stop, tally))
                for _ in range(args.job_workers)]
    for th in threads:
        th.start()
    faults: list[tuple[float, str]] = []
    started = time.monotonic()
    try:
        turn = 0
        while time.monotonic() - started < args.seconds:
            time.sleep(args.every)
            name = names[turn % len(names)]
            turn += 1
            faults.append((time.monotonic(), name))
            print(f"{time.monotonic() - started:6.1f}s  fault: {name}", flush=True)
            try:
                fault(name, cluster)
            except Exception as exc:  # noqa: BLE001 - our own connection may be the one that died
                connections.close_all()
                print(f"        ({name} raised {exc!r}; retried)", flush=True)
                fault(name, cluster)
        time.sleep(args.every)  # the load goes on after the last fault: its recovery is measured too
        stop.set()
        threads[0].join()  # the producer finishes its last create
        connections.close_all()
        # Let the workers finish what was acknowledged (jobs whose answer was lost come back after their timeout).
        deadline = time.monotonic() + 120
        acked_keys = [int(k) for k in tally.acked.values()]
        while time.monotonic() < deadline:
            done = ProcessInstance.objects.filter(key__in=acked_keys, state="COMPLETED").count()
            if done == len(acked_keys):
                break
            time.sleep(1)
        for th in threads[1:]:
            th.join(timeout=10)
    finally:
        stop.set()
        cluster.stop()

    connections.close_all()
    acked_keys = [int(k) for k in tally.acked.values()]
    present = set(ProcessInstance.objects.filter(key__in=acked_keys).values_list("key", flat=True))
    completed = ProcessInstance.objects.filter(key__in=acked_keys, state="COMPLETED").count()
    per_idem = Counter(Variable.objects.filter(name="idem").values_list("value", flat=True))
    duplicated = sum(n - 1 for n in per_idem.values() if n > 1)
    completions = Command.objects.filter(kind="COMPLETE_JOB", state="PROCESSED")
    jobs_completed = completions.values("payload__jobKey").order_by().distinct().count()
    print()
    print(f"faults:          {len(faults)} ({', '.join(names)}, every {args.every:g} s, {args.seconds:g} s)")
    print(f"acknowledged:    {len(acked_keys)}  (creates given up after 60 s of retries: {tally.gave_up})")
    print(f"completed:       {completed}")
    print(f"lost:            {len(acked_keys) - len(present)} missing, {len(present) - completed} not completed")
    twice = completions.count() - jobs_completed
    print(f"duplicated:      {duplicated} instances, {twice} job completions applied twice")
    print("answers:         " + ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses.items())))
    non_2xx = {s: n for s, n in tally.statuses.items() if not (s.isdigit() and 200 <= int(s) < 300)}
    print("non-2xx:         " + (", ".join(f"{s}: {n}" for s, n in sorted(non_2xx.items())) or "none"))
    print("recovery (s):    " + ", ".join(f"{n} {b if b is not None else '>30'}"
                                          for n, b in recovery(tally.acked_at, faults)))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
