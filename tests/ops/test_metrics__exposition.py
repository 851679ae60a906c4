"""/metrics: protected, Prometheus text that `promtool check metrics` accepts, counting real work."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest
from django.test import Client

from engine.api.base import backlog
from engine.runtime.loop import drain
from tests.conftest import ROOT, deploy_file

pytestmark = pytest.mark.django_db


def promtool_problems(text: str) -> str:
    """What `promtool check metrics` (Debian's prometheus package) objects to; '' when nothing."""
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    return "" if done.returncode == 0 else (done.stdout + done.stderr)


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels` (0 when none)."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


def scrape(token: str = "s3cret") -> str:
    resp = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert resp.status_code == 200, resp.content
    assert resp["Content-Type"].startswith("text/plain; version=0.0.4")
    return resp.content.decode()


def test_metrics_are_off_unless_configured_and_need_the_bearer_token(settings):
    settings.FLOWSYNC_METRICS_TOKEN = ""
    settings.FLOWSYNC_METRICS_PUBLIC = False
    assert Client().get("/metrics").status_code == 404
    settings.FLOWSYNC_METRICS_TOKEN = "s3cret"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
    settings.FLOWSYNC_METRICS_TOKEN = ""
    settings.FLOWSYNC_METRICS_PUBLIC = True
    assert Client().get("/metrics").status_code == 200


@pytest.mark.django_db(transaction=True)  # batch metrics are counted when the batch commits
@pytest.mark.postgres  # on SQLite the engine applies commands inline: none would be pending
def test_engine_job_and_http_work_shows_in_metrics_that_promtool_accepts(api, settings):
    settings.FLOWSYNC_METRICS_TOKEN = "s3cret"
    before = scrape()
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    for _ in range(2):
        resp = api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json")
        assert resp.status_code == 200
    pending = scrape()
    assert sample(pending, "flowsync_engine_pending_commands") == 2
    assert sample(pending, "flowsync_engine_oldest_pending_command_age_seconds") >= 0
    drain()
    jobs = api.post("/v2/jobs/activation", {"type": "payment", "worker": "w", "timeout": 10000,
                                            "maxJobsToActivate": 5}, format="json").json()["jobs"]
    assert len(jobs) == 2
    assert api.post(f"/v2/jobs/{jobs[0]['jobKey']}/completion", {}, format="json").status_code == 204
    drain()
    after = scrape()
    assert promtool_problems(after) == ""

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("flowsync_engine_commands_applied_total", kind="CREATE_INSTANCE") == 2
    assert grew("flowsync_engine_commands_applied_total", kind="COMPLETE_JOB") == 1
    assert grew("flowsync_engine_batch_commands_count") == 2
    assert grew("flowsync_engine_instances_total", tenant="<default>", process_id="order-process", event="started") == 2
    assert grew("flowsync_engine_instances_total", process_id="order-process", event="completed") == 1
    assert grew("flowsync_engine_instance_duration_seconds_count", process_id="order-process") == 1
    assert grew("flowsync_jobs_total", type="payment", event="created") == 2
    assert grew("flowsync_jobs_total", type="payment", event="activated") == 2
    assert grew("flowsync_jobs_total", type="payment", event="completed") == 1
    assert grew("flowsync_job_handoff_seconds_count", type="payment") == 2
    assert grew("flowsync_http_requests_total", method="POST", route="v2/process-instances", status="200") == 2
    assert grew("flowsync_http_request_seconds_count", route="v2/process-instances") == 2
    assert sample(after, "flowsync_engine_pending_commands") == 0
    assert sample(after, "flowsync_scrape_database_up") == 1
    # Bounded labels: no key of any instance, job or command appears anywhere in the exposition.
    assert jobs[0]["jobKey"] not in after and jobs[0]["processInstanceKey"] not in after


def test_jobs_whose_lock_ran_out_are_shown(api, settings):
    settings.FLOWSYNC_METRICS_TOKEN = "s3cret"
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json")
    drain()
    jobs = api.post("/v2/jobs/activation", {"type": "payment", "worker": "w", "timeout": 1,
                                            "maxJobsToActivate": 5}, format="json").json()["jobs"]
    assert len(jobs) == 1
    time.sleep(0.05)
    before = scrape()
    assert sample(before, "flowsync_jobs_lock_expired", tenant="<default>", type="payment") == 1
    # Activated again by another worker: that activation is counted as the first one's time-out.
    again = api.post("/v2/jobs/activation", {"type": "payment", "worker": "w2", "timeout": 10000,
                                             "maxJobsToActivate": 5}, format="json").json()["jobs"]
    assert [j["jobKey"] for j in again] == [jobs[0]["jobKey"]]
    after = scrape()
    assert promtool_problems(after) == ""
    assert (sample(after, "flowsync_jobs_total", type="payment", event="timed_out")
            - sample(before, "flowsync_jobs_total", type="payment", event="timed_out")) == 1
    assert (sample(after, "flowsync_jobs_total", type="payment", event="activated")
            - sample(before, "flowsync_jobs_total", type="payment", event="activated")) == 1
    assert sample(after, "flowsync_jobs_lock_expired", tenant="<default>", type="payment") == 0


def test_refused_requests_are_counted_by_reason(api, settings):
    settings.FLOWSYNC_METRICS_TOKEN = "s3cret"
    before = scrape()
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json")
    api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json")
    backlog.reset()
    settings.FLOWSYNC_BACKPRESSURE_PENDING_COMMANDS = 1
    assert api.post("/v2/process-instances", {"processDefinitionId": "order-process"},
                    format="json").status_code == 503
    backlog.reset()
    after = scrape()
    assert (sample(after, "flowsync_api_refused_requests_total", reason="backpressure")
            - sample(before, "flowsync_api_refused_requests_total", reason="backpressure")) == 1


def test_the_grafana_dashboard_uses_only_metrics_we_export():
    declared = {name for path in ("flowsync/metrics.py", "engine/ops/collect.py")
                for name in re.findall(r'"(flowsync_[a-z_]+)"', (ROOT / path).read_text())}
    dashboard = json.loads((ROOT / "docs" / "grafana" / "flowsync.json").read_text())
    used = {re.sub(r"_(bucket|sum|count)$", "", name)
            for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"flowsync_[a-z_]+", target["expr"])}
    assert len(used) >= 12 and used <= declared, used - declared


@pytest.mark.django_db(transaction=True)  # batch metrics are counted when the batch commits
@pytest.mark.postgres  # database sessions are read from pg_stat_activity
def test_terminations_incidents_buffered_messages_and_sessions_are_exported(api, settings):
    """The figures of the issue's list the test above does not reach: instances terminated per process,
    open incidents per type, the message buffer and the database's sessions — promtool still satisfied."""
    settings.FLOWSYNC_METRICS_TOKEN = "s3cret"
    before = scrape()
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    keys = [api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json")
            .json()["processInstanceKey"] for _ in range(2)]
    drain()
    assert api.post(f"/v2/process-instances/{keys[0]}/cancellation", {}, format="json").status_code == 204
    drain()  # the canceled instance's job is gone before a worker asks for one
    (job,) = api.post("/v2/jobs/activation", {"type": "payment", "worker": "w", "timeout": 10000,
                                              "maxJobsToActivate": 1}, format="json").json()["jobs"]
    assert api.post(f"/v2/jobs/{job['jobKey']}/failure", {"retries": 0, "errorMessage": "down"},
                    format="json").status_code == 204
    drain()
    published = api.post("/v2/messages/publication", {"name": "nobody-waits", "correlationKey": "c-1",
                                                       "timeToLive": 60_000}, format="json")
    assert published.status_code == 200
    after = scrape()
    assert promtool_problems(after) == ""
    assert (sample(after, "flowsync_engine_instances_total", tenant="<default>", process_id="order-process",
                   event="terminated")
            - sample(before, "flowsync_engine_instances_total", tenant="<default>", process_id="order-process",
                     event="terminated")) == 1
    assert sample(after, "flowsync_incidents_open", tenant="<default>", error_type="JOB_NO_RETRIES") == 1
    assert (sample(after, "flowsync_engine_instances_total", process_id="order-process", event="failed")
            - sample(before, "flowsync_engine_instances_total", process_id="order-process", event="failed")) == 1
    assert sample(after, "flowsync_messages_buffered") == 1
    assert sample(after, "flowsync_database_connections", state="active") >= 1
