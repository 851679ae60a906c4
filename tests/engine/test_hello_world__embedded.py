"""The embedded default: no DATABASE_URL, no REDIS_URL → SQLite and the engine inline in the web process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import httpx
import pytest

from tests.conftest import ROOT, bpmn_file, wait_for

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_hello_world_embedded(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "FLOWSYNC_ENGINE_INLINE")}
    env.update(DJANGO_SETTINGS_MODULE="flowsync.settings", FLOWSYNC_SQLITE_PATH=str(tmp_path / "fs.sqlite3"))
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [*manage, "flowsync_bootstrap", "--json", "--credentials-file", str(tmp_path / "c.json")],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    creds = json.loads(out.strip().splitlines()[-1])
    port = free_port()
    server = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        http = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/v2", auth=(creds["clientId"], creds["clientSecret"]), timeout=10
        )
        wait_for(lambda: _up(http), timeout=20)
        assert (
            http.post(
                "/deployments", files=[("resources", ("o.bpmn", bpmn_file("hello-service-task.bpmn")))]
            ).status_code
            == 200
        )
        pi = http.post(
            "/process-instances", json={"processDefinitionId": "order-process", "variables": {"orderId": "E-1"}}
        ).json()["processInstanceKey"]
        # Inline engine: the start was applied before the response, so the job is there at once.
        jobs = http.post("/jobs/activation", json={"type": "payment", "timeout": 5000, "maxJobsToActivate": 1}).json()
        assert [j["variables"] for j in jobs["jobs"]] == [{"orderId": "E-1"}]
        assert (
            http.post(f"/jobs/{jobs['jobs'][0]['jobKey']}/completion", json={"variables": {"ok": True}}).status_code
            == 204
        )
        assert http.get(f"/process-instances/{pi}").json()["state"] == "COMPLETED"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _up(http: httpx.Client) -> bool:
    try:
        return http.get("/status").status_code == 204
    except httpx.HTTPError:
        return False
