"""SIGTERM to the web server: requests in flight are answered, long polls end early, then it exits."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

from tests.live import WebServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_sigterm_answers_the_requests_in_flight_and_ends_long_polls(creds):
    web = WebServer(workers=1, threads=4)
    answers: dict[str, tuple[int, float]] = {}

    def long_poll() -> None:
        resp = httpx.post(web.url + "/v2/jobs/activation", headers={"Authorization": creds.header}, timeout=60,
                          json={"type": "nothing-comes", "maxJobsToActivate": 1, "timeout": 1000,
                                "requestTimeout": 40000})
        answers["poll"] = (resp.status_code, time.monotonic())
        assert resp.json()["jobs"] == []

    try:
        poller = threading.Thread(target=long_poll)
        poller.start()
        time.sleep(1.5)  # the poll is waiting in the worker
        signalled = time.monotonic()
        web.proc.send_signal(signal.SIGTERM)
        poller.join(timeout=40)
        status, at = answers["poll"]
        assert status == 200
        assert at - signalled < 5  # ended at the next re-check, not after 40 s or a cut connection
        web.proc.wait(timeout=30)
        assert web.proc.returncode == 0
        with pytest.raises(httpx.HTTPError):
            httpx.get(web.url + "/v2/status", timeout=2)
    finally:
        web.stop(signal.SIGKILL)
