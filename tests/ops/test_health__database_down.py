"""With PostgreSQL unreachable a real web server still answers both probes: /healthz 200 (the
process is fine, do not restart it), /readyz 503 naming the database — never a 500."""

from __future__ import annotations

import os
import subprocess
import time

import httpx
import pytest

from tests.conftest import ROOT
from tests.live import free_port

pytestmark = pytest.mark.slow


def test_probes_answer_when_the_database_is_unreachable():
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "flowsync.settings", "FLOWSYNC_ENGINE_INLINE": "0",
           # Nothing listens on port 1: every connection attempt is refused at once.
           "DATABASE_URL": "postgres://postgres@127.0.0.1:1/flowsync"}
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "flowsync.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--log-level", "warning", "--config", str(ROOT / "gunicorn.conf.py")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(url + "/healthz", timeout=5)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and proc.poll() is None, "gunicorn did not start"
                time.sleep(0.2)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        ready = httpx.get(url + "/readyz", timeout=10)
        assert ready.status_code == 503, ready.text
        body = ready.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}
        assert body["checks"]["migrations"]["ok"] is False and body["checks"]["backlog"]["ok"] is False
        assert "127.0.0.1:1" not in ready.text  # no connection details to an unauthenticated caller
    finally:
        proc.terminate()
        proc.wait(timeout=30)
