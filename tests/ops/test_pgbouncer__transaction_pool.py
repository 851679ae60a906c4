"""Behind PgBouncer (Debian's `pgbouncer`) in transaction pooling mode: the API (gunicorn), an engine
worker (its commands, heartbeats, sweep and history cleanup) all through the pooler, with the worker's
LISTEN on a direct connection (FLOWSYNC_LISTEN_DATABASE_URL) — and the reason for that split: a LISTEN
sent through a transaction pool never hears its notifications."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from engine.models import ProcessInstance, WorkerHeartbeat
from tests.conftest import bpmn_file, wait_for
from tests.conftest import test_database_url as direct_url
from tests.live import WebServer, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.postgres]


class Bouncer:
    def __init__(self, direct: str):
        info = psycopg.conninfo.conninfo_to_dict(direct)
        self.db = info["dbname"]
        self.port = free_port()
        # PgBouncer refuses to run as root: it drops to the postgres user, who must read its files.
        self.dir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self.dir.chmod(0o755)
        (self.dir / "users.txt").write_text('"postgres" ""\n')
        (self.dir / "pgbouncer.ini").write_text(f"""
[databases]
{self.db} = host={info.get('host', '127.0.0.1')} port={info.get('port', 5432)} dbname={self.db}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.dir / 'users.txt'}
admin_users = postgres
pool_mode = transaction
default_pool_size = 10
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
""")
        for f in self.dir.iterdir():
            f.chmod(0o644)
        self.log = tempfile.TemporaryFile("w+")
        command = [shutil.which("pgbouncer") or "/usr/sbin/pgbouncer", str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "postgres"]
        self.proc = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/{self.db}"
        wait_for(self._ready, timeout=15)

    def _ready(self) -> bool:
        try:
            psycopg.connect(self.url, connect_timeout=1).close()
            return True
        except psycopg.OperationalError:
            assert self.proc.poll() is None, self.output()
            return False

    def stats(self) -> dict[str, int]:
        """This database's counters from PgBouncer's admin console."""
        with psycopg.connect(f"postgres://postgres@127.0.0.1:{self.port}/pgbouncer", autocommit=True) as admin:
            cur = admin.execute("SHOW STATS")
            names = [c.name for c in cur.description]
            for row in cur.fetchall():
                if row[0] == self.db:
                    return dict(zip(names, row, strict=True))
        return {}

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def bouncer() -> Iterator[Bouncer]:
    if shutil.which("pgbouncer") is None and not Path("/usr/sbin/pgbouncer").exists():
        pytest.fail("pgbouncer is not installed: scripts/setup.sh --dev installs Debian's package")
    b = Bouncer(direct_url())
    yield b
    b.stop()


def test_a_listen_through_a_transaction_pool_hears_nothing(bouncer):
    with psycopg.connect(bouncer.url, autocommit=True) as pooled, \
            psycopg.connect(direct_url(), autocommit=True) as direct, \
            psycopg.connect(direct_url(), autocommit=True) as notifier:
        pooled.execute("LISTEN flowsync_probe")
        direct.execute("LISTEN flowsync_probe")
        notifier.execute("NOTIFY flowsync_probe, 'hello'")
        assert [n.payload for n in direct.notifies(timeout=2, stop_after=1)] == ["hello"]
        assert list(pooled.notifies(timeout=2, stop_after=1)) == []  # the server connection went back to the pool


def test_api_and_engine_worker_run_through_pgbouncer_with_listen_on_a_direct_connection(bouncer, creds,
                                                                                        start_worker):
    pooled = {"DATABASE_URL": bouncer.url, "FLOWSYNC_DB_POOLER": "transaction"}
    # Sweeps a minute apart: commands applied within seconds were woken by NOTIFY, not found by a sweep.
    worker = start_worker(**pooled, FLOWSYNC_LISTEN_DATABASE_URL=direct_url(),
                          FLOWSYNC_ENGINE_SWEEP_SECONDS="60", FLOWSYNC_RETENTION_INTERVAL_SECONDS="1",
                          FLOWSYNC_HEARTBEAT_SECONDS="0.5", FLOWSYNC_WAIT_RECHECK_SECONDS="0.5")
    web = WebServer(workers=2, threads=4, **pooled)
    try:
        before = bouncer.stats()
        api = httpx.Client(base_url=web.url, auth=(creds.client_id, creds.secret), timeout=30)
        deployed = api.post("/v2/deployments", files={"resources": ("hello-service-task.bpmn",
                                                                    bpmn_file("hello-service-task.bpmn"))})
        assert deployed.status_code == 200, deployed.text
        time.sleep(1.5)  # past the worker's first sweep: from here on only a NOTIFY wakes it
        started = time.monotonic()
        keys = []
        for _ in range(20):
            resp = api.post("/v2/process-instances", json={"processDefinitionId": "order-process"})
            assert resp.status_code == 200, resp.text
            keys.append(int(resp.json()["processInstanceKey"]))
        jobs: list[dict] = []
        while len(jobs) < 20 and time.monotonic() - started < 30:
            resp = api.post("/v2/jobs/activation", json={"type": "payment", "worker": "w", "timeout": 30000,
                                                         "maxJobsToActivate": 20, "requestTimeout": 2000})
            assert resp.status_code == 200, resp.text
            jobs += resp.json()["jobs"]
        assert len(jobs) == 20
        for job in jobs:
            assert api.post(f"/v2/jobs/{job['jobKey']}/completion", json={}).status_code == 204
        wait_for(lambda: ProcessInstance.objects.filter(key__in=keys, state="COMPLETED").count() == 20, timeout=20)
        assert time.monotonic() - started < 30  # well inside one sweep interval (60 s)
        found = api.post("/v2/process-instances/search", json={"filter": {"state": "COMPLETED"}})
        assert found.status_code == 200 and found.json()["page"]["totalItems"] == 20
        # The worker's heartbeat thread and its history cleanup (partitions, retention) ran through the pool too.
        wait_for(lambda: WorkerHeartbeat.objects.filter(commands_applied__gte=40).exists(), timeout=10)
        after = bouncer.stats()
        assert after["total_xact_count"] - before.get("total_xact_count", 0) > 100
        for process in (worker.log_text(), web.output()):
            assert "Traceback" not in process and "prepared statement" not in process
    finally:
        web.stop()
