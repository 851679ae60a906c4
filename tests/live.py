"""A real web server process (gunicorn, as in production) against the test database, for fault tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time

import httpx
from django.conf import settings

from tests.conftest import ROOT, die_with_parent, test_database_url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebServer:
    """`gunicorn flowsync.wsgi` with a few workers; `url` is ready when the constructor returns."""

    def __init__(self, workers: int = 2, threads: int = 4, graceful: int = 30, **extra_env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "FLOWSYNC_ENGINE_INLINE": "0",
            "DJANGO_SETTINGS_MODULE": "flowsync.settings",
            **extra_env,
        }
        # A file, not a pipe: nobody reads a pipe until the end, and a full one blocks every log write.
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "flowsync.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--threads", str(threads), "--graceful-timeout", str(graceful),
             "--log-level", "warning", "--config", str(ROOT / "gunicorn.conf.py")],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, text=True, preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/v2/status", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not start:\n" + self.output())

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def output(self) -> str:
        self.stop()
        self.log.seek(0)
        return self.log.read()
