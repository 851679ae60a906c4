"""Connectors end to end: run by real engine worker processes, inline in embedded mode, and after a kill -9."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from engine.actions.instances import find_definition, start_instance
from engine.actions.jobs import activate_jobs
from engine.definitions.deploy import Resource, deploy
from engine.models import Command, Job, ProcessInstance, StepLog, Variable
from tests.conftest import wait_for
from tests.engine.connectors.conftest import BPMN

ALLOW = {"FLOWSYNC_CONNECTOR_HTTP_ALLOW": "127.0.0.1"}


def _deploy(tenant, name: str) -> None:
    deploy(tenant, [Resource(name, (BPMN / name).read_bytes())], timezone.now())


def _start(tenant, process_id: str, **variables) -> int:
    definition = find_definition(tenant, process_id=process_id)
    return start_instance(tenant, definition, variables, "test", timezone.now()).key


def _state(key: int) -> str:
    return ProcessInstance.objects.get(key=key).state


def _variable(key: int, name: str):
    return Variable.objects.get(process_instance_id=key, scope_key=key, name=name).value


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_worker_process_runs_the_camunda_rest_task_of_a_modeler_file(creds, http_server, start_worker):
    _deploy(creds.tenant, "camunda-rest.bpmn")
    start_worker(**ALLOW)
    key = _start(creds.tenant, "rest-order", baseUrl=http_server.url, orderId="B-2", apiToken="tok")
    wait_for(lambda: _state(key) == "COMPLETED", timeout=30)
    assert _variable(key, "orderStatus") == "shipped"
    assert _variable(key, "orderResponse")["body"]["id"] == "B-2"
    assert Job.objects.get(process_instance_key=key).worker == "flowsync-connector"
    assert len(http_server.seen) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_worker_process_refuses_loopback_unless_allowed(creds, http_server, start_worker):
    _deploy(creds.tenant, "flowsync-connectors.bpmn")
    start_worker()  # no allow-list entry
    key = _start(creds.tenant, "http-call", url=http_server.url + "/orders/1")
    wait_for(lambda: ProcessInstance.objects.get(key=key).has_incident, timeout=30)
    assert "loopback addresses are refused" in Job.objects.get(process_instance_key=key).error_message
    assert http_server.seen == []


@pytest.mark.django_db(transaction=True)
def test_embedded_mode_runs_connectors_inline_right_after_the_commit(creds, http_server, settings):
    settings.ENGINE_INLINE = True
    settings.CONNECTOR_HTTP_ALLOW = "127.0.0.1"
    _deploy(creds.tenant, "flowsync-connectors.bpmn")
    key = _start(creds.tenant, "http-call", url=http_server.url + "/orders/C-3")
    # start → commit → drain → connector → completion → drain, all before start_instance returned.
    assert _state(key) == "COMPLETED"
    assert _variable(key, "response")["body"]["id"] == "C-3"
    transform = _start(creds.tenant, "transform", order={"item": "pen", "price": 2, "quantity": 5})
    assert _state(transform) == "COMPLETED" and _variable(transform, "total") == 10


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_kill_9_mid_call_runs_the_job_again_after_the_lock_and_completes_it_once(creds, http_server, start_worker):
    env = {**ALLOW, "FLOWSYNC_CONNECTOR_LOCK_TIMEOUT_MS": "5000"}
    _deploy(creds.tenant, "flowsync-connectors.bpmn")
    first = start_worker(**env)
    key = _start(creds.tenant, "http-call", url=http_server.url + "/hang-once")
    assert http_server.arrived.wait(30), "the connector never called the server"
    job = Job.objects.get(process_instance_key=key)
    assert (job.state, job.worker) == ("ACTIVATED", "flowsync-connector")
    first.kill()  # SIGKILL while the call hangs: no completion, no failure, only the lock remains
    start_worker(**env)
    wait_for(lambda: _state(key) == "COMPLETED", timeout=40)
    assert http_server.hung == 2
    assert _variable(key, "response")["body"] == {"attempt": 2}
    job.refresh_from_db()
    assert (job.state, job.retries, job.failures) == ("COMPLETED", 2, 0)
    assert Command.objects.filter(process_instance_key=key, kind="COMPLETE_JOB").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres  # engine workers (and their connector thread) run on PostgreSQL; SQLite applies inline
def test_an_engine_workers_own_thread_runs_what_its_batches_schedule_without_an_rq_job(creds, http_server,
                                                                                       settings, monkeypatch,
                                                                                       flush_redis):
    import django_rq

    from engine.connectors import runner
    from engine.runtime.loop import drain

    settings.CONNECTOR_HTTP_ALLOW = "127.0.0.1"
    local = runner._LocalRunner()
    monkeypatch.setattr(runner, "_local", local)  # what engine_worker's run_in_this_process installs
    local.start()
    try:
        _deploy(creds.tenant, "flowsync-connectors.bpmn")
        keys = [_start(creds.tenant, "http-call", url=f"{http_server.url}/orders/L-{n}") for n in range(3)]
        drain()  # its commit schedules the three connector jobs: the thread runs them
        wait_for(lambda: Job.objects.filter(process_instance_key__in=keys, state="COMPLETED").count() == 3, timeout=30)
        drain()
        assert [_state(key) for key in keys] == ["COMPLETED"] * 3
        assert sorted(http_server.paths()) == ["/orders/L-0", "/orders/L-1", "/orders/L-2"]
        # Nothing went through RQ; each call's log was kept with its completion.
        assert django_rq.get_queue("connectors").count == 0
        assert not django_rq.get_connection("connectors").exists(runner.QUEUED_FLAG.format(tenant_id=creds.tenant.pk))
        assert StepLog.objects.filter(process_instance_key__in=keys).count() == 3
        assert Command.objects.filter(process_instance_key__in=keys, kind="COMPLETE_JOB").count() == 3
    finally:
        local.stopped.set()
        local.join(10)
    assert not local.is_alive()


@pytest.mark.django_db
def test_the_sweeper_queues_expired_and_backed_off_connector_jobs_once(engine, http_server, allow_local,
                                                                       flush_redis):
    import django_rq

    from engine.connectors.runner import QUEUED_FLAG, connector_job, schedule_pending
    from engine.runtime.loop import drain

    engine.deploy("flowsync-connectors.bpmn")
    key = engine.start("http-call", url=http_server.url + "/orders/D-4")
    activate_jobs([engine.tenant.pk], "flowsync:http", "flowsync-connector", 1000, 1, engine.now)
    queue = django_rq.get_queue("connectors")
    schedule_pending(engine.now)  # locked: someone runs it
    assert queue.count == 0
    later = engine.now + timedelta(seconds=2)
    schedule_pending(later)
    schedule_pending(later)  # already queued for the tenant: not twice
    assert queue.count == 1
    [rq_job] = queue.get_jobs()
    assert rq_job.func_name == "engine.connectors.runner.connector_job" and rq_job.args == ([engine.tenant.pk],)
    assert connector_job([engine.tenant.pk]) == 1
    assert not django_rq.get_connection("connectors").exists(QUEUED_FLAG.format(tenant_id=engine.tenant.pk))
    drain()
    assert engine.state(key) == "COMPLETED"


@pytest.mark.django_db
def test_without_redis_the_sweeper_runs_connector_jobs_itself(engine, http_server, allow_local, monkeypatch):
    from engine.connectors import runner
    from engine.runtime.loop import drain

    def redis_down(tenant_ids):  # type: ignore[no-untyped-def]
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(runner, "enqueue", redis_down)
    engine.deploy("flowsync-connectors.bpmn")
    key = engine.start("http-call", url=http_server.url + "/orders/E-5")
    runner.schedule_pending(timezone.now())
    drain()
    assert engine.state(key) == "COMPLETED"
    assert http_server.paths() == ["/orders/E-5"]
