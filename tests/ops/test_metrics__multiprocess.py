"""/metrics across processes: two gunicorn workers and an engine worker share prometheus-client's
multiprocess directory, so every scrape — whichever web worker answers it — shows the sum."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import bpmn_file, wait_for
from tests.live import WebServer
from tests.ops.test_metrics__exposition import promtool_problems, sample

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_every_scrape_sums_all_web_and_engine_processes(creds, start_worker, tmp_path):
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "FLOWSYNC_METRICS_TOKEN": "t0ken"}
    worker = start_worker(**env)
    web = WebServer(workers=2, threads=2, **env)
    try:
        http = httpx.Client(base_url=web.url, auth=(creds.client_id, creds.secret), timeout=10)
        deployed = http.post("/v2/deployments", files=[("resources", ("o.bpmn", bpmn_file("hello-service-task.bpmn")))])
        assert deployed.status_code == 200, deployed.text
        for _ in range(4):
            started = http.post("/v2/process-instances", json={"processDefinitionId": "order-process"})
            assert started.status_code == 200, started.text

        def scrape() -> str:
            resp = httpx.get(web.url + "/metrics", headers={"Authorization": "Bearer t0ken"}, timeout=10)
            assert resp.status_code == 200, resp.text
            return resp.text

        wait_for(lambda: sample(scrape(), "flowsync_engine_commands_applied_total", kind="CREATE_INSTANCE") == 4)
        for _ in range(8):  # several scrapes: both web workers answer some of them
            text = scrape()
            assert sample(text, "flowsync_engine_commands_applied_total", kind="CREATE_INSTANCE") == 4
            assert sample(text, "flowsync_http_requests_total", method="POST", route="v2/process-instances",
                          status="200") == 4
            assert sample(text, "flowsync_engine_workers", state="alive") == 1
        assert promtool_problems(text) == ""
    finally:
        web.stop()
    assert worker.proc.poll() is None, worker.output()
