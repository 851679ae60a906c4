"""Backup drill: pg_dump a live system under load, restore it into a new database, carry on there.

    .venv/bin/python bench/backup_drill.py

The steps of docs/operations.md ("Backup and restore drill"), automated and checked:
1. a system (gunicorn, engine workers, job workers) runs on BENCH_DATABASE_URL under load:
   orders (start → service task → end) created through the API with Idempotency-Key and
   worked by job workers, plus instances waiting on a timer due a few seconds after the dump;
2. `pg_dump -Fc` while the load goes on; the load goes on a little longer, then the system stops;
3. CREATE DATABASE + `pg_restore` into <database>_restored; the timers fall due meanwhile;
4. the system starts on the restored database (Redis flushed: nothing queued for the old one)
   and works on.
Checks: every create acknowledged before the dump started is in the restored database and
completes there; every timer fires exactly once there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flowsync_drill")
from chaos import Cluster, Tally, job_worker, producer  # noqa: E402
from common import BENCH_DB, ROOT, setup_django, tenant  # noqa: E402

TIMER_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D" targetNamespace="http://x">
  <bpmn:process id="drill-timer" isExecutable="true">
    <bpmn:startEvent id="Start"/><bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Wait"/>
    <bpmn:intermediateCatchEvent id="Wait"><bpmn:timerEventDefinition>
      <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT12S</bpmn:timeDuration>
    </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="Wait" targetRef="End"/><bpmn:endEvent id="End"/>
  </bpmn:process>
</bpmn:definitions>"""


def run(cmd: list[str]) -> None:
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def load(cluster: Cluster, auth: tuple[str, str], tally: Tally, stop: threading.Event) -> list[threading.Thread]:
    threads = [threading.Thread(target=producer, args=(cluster.url, auth, 10, stop, tally))]
    threads += [threading.Thread(target=job_worker, args=(cluster.url, auth, stop, tally)) for _ in range(3)]
    for th in threads:
        th.start()
    return threads


def main() -> None:
    setup_django()
    from django.db import connections
    from django.utils import timezone

    from engine.definitions.deploy import Resource, deploy
    from flowsync.models import ApiKey

    t = tenant()
    deploy(t, [Resource("order.bpmn", (ROOT / "tests/engine/bpmn/hello-service-task.bpmn").read_bytes()),
               Resource("timer.bpmn", TIMER_BPMN)], timezone.now())
    key, secret = ApiKey.issue(t, "drill")
    auth = (key.client_id, secret)
    connections.close_all()
    restored = BENCH_DB.rsplit("/", 1)[1] + "_restored"
    restored_url = BENCH_DB.rsplit("/", 1)[0] + "/" + restored
    admin = BENCH_DB.rsplit("/", 1)[0] + "/postgres"
    dump = ROOT / "var" / "drill.dump"
    dump.parent.mkdir(exist_ok=True)

    # 1. The live system under load, with timers that fall due after the dump.
    cluster = Cluster(2, 2)
    tally, stop = Tally(), threading.Event()
    threads = load(cluster, auth, tally, stop)
    timers = []
    with httpx.Client(base_url=cluster.url, auth=auth, timeout=30) as client:
        for _ in range(5):
            resp = client.post("/v2/process-instances", json={"processDefinitionId": "drill-timer"})
            timers.append(int(resp.json()["processInstanceKey"]))
    time.sleep(6)
    # 2. The dump, while creates and completions go on.
    with tally.lock:
        acked_before = {int(k) for k in tally.acked.values()}
    run(["pg_dump", "-Fc", "-d", BENCH_DB, "-f", str(dump)])
    time.sleep(3)
    stop.set()
    for th in threads:
        th.join(timeout=30)
    cluster.stop()
    # 3. Restore into a new database; the timers (due 12 s after their start) fall due meanwhile.
    run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {restored} WITH (FORCE)"])
    run(["psql", admin, "-qc", f"CREATE DATABASE {restored}"])
    run(["pg_restore", "--no-owner", "-d", restored_url, str(dump)])
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    time.sleep(8)
    # 4. The system on the restored database.
    cluster = Cluster(2, 2, database_url=restored_url)
    tally2, stop2 = Tally(), threading.Event()
    threads = load(cluster, auth, tally2, stop2)
    from django.db import connections as conns

    conns["default"].settings_dict["NAME"] = restored
    conns.close_all()
    from engine.models import Command, ProcessInstance

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        done = ProcessInstance.objects.filter(key__in=acked_before | set(timers), state="COMPLETED").count()
        if done == len(acked_before) + len(timers):
            break
        time.sleep(1)
    stop2.set()
    for th in threads:
        th.join(timeout=30)
    cluster.stop()
    present = ProcessInstance.objects.filter(key__in=acked_before).count()
    completed = ProcessInstance.objects.filter(key__in=acked_before, state="COMPLETED").count()
    fired = {k: Command.objects.filter(process_instance_key=k, kind="TRIGGER_TIMER").count() for k in timers}
    timers_done = ProcessInstance.objects.filter(key__in=timers, state="COMPLETED").count()
    print()
    print(f"acknowledged before the dump: {len(acked_before)}; in the restored database: {present}; "
          f"completed there: {completed}")
    print(f"timers: {len(timers)}; fired once each: {sum(1 for n in fired.values() if n == 1)}; "
          f"instances completed: {timers_done}")
    print(f"created after the restore: {len(tally2.acked)}; answers after the restore: "
          + ", ".join(f"{s}: {n}" for s, n in sorted(tally2.statuses.items())))
    ok = present == completed == len(acked_before) and all(n == 1 for n in fired.values())
    print("drill: " + ("PASSED" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
