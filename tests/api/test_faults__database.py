"""Database connections killed under load: no request answers 500, and the engine carries on.

Restarting the shared PostgreSQL server would hit other people's tests, so the fault is
every backend of the test database terminated at once (what a restart does to our
connections): `pg_terminate_backend` on all of them but our own.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone

from engine.actions.instances import find_definition, start_instance
from engine.definitions.deploy import Resource, deploy
from engine.models import ProcessInstance
from tests.conftest import bpmn_file, wait_for
from tests.engine.runaway import plain
from tests.live import WebServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def kill_backends() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return cur.fetchone()[0]


@pytest.fixture
def web(creds):  # type: ignore[no-untyped-def]
    server = WebServer(workers=2, threads=4)
    yield server
    server.stop()


def create(client: httpx.Client, statuses: Counter, process_id: str) -> str | None:
    """One create with an Idempotency-Key, repeated on 503 like a well-behaved client; the key it got."""
    idem = str(uuid.uuid4())
    for _ in range(20):
        resp = client.post("/v2/process-instances", json={"processDefinitionId": process_id},
                           headers={"Idempotency-Key": idem})
        statuses[resp.status_code] += 1
        if resp.status_code == 200:
            return resp.json()["processInstanceKey"]
        assert resp.status_code == 503, resp.text
        assert resp.headers["Retry-After"] and resp.headers["content-type"] == "application/problem+json"
        time.sleep(0.2)
    return None


def test_killed_connections_mean_no_500_and_nothing_lost_or_doubled(creds, web, start_worker):
    deploy(creds.tenant, [Resource("plain.bpmn", plain())], timezone.now())
    start_worker()
    statuses: Counter = Counter()
    acked: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=web.url, headers={"Authorization": creds.header}, timeout=30) as client:
            while not stop.is_set():
                key = create(client, statuses, "plain")
                assert key is not None
                acked.append(key)
                resp = client.get(f"/v2/process-instances/{key}")
                statuses[resp.status_code] += 1
                resp = client.post("/v2/process-instances/search", json={"page": {"limit": 5}})
                statuses[resp.status_code] += 1

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    killed = 0
    try:
        for _ in range(4):
            time.sleep(1.5)
            killed += kill_backends()
        time.sleep(1.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert killed >= 4  # web and engine connections really died
    assert 500 not in statuses and set(statuses) <= {200, 503}, statuses
    assert len(acked) > 20
    # Every acknowledged instance exists once and the engine worker, reconnected, completed it.
    assert ProcessInstance.objects.filter(tenant=creds.tenant).count() == len(set(acked)) == len(acked)
    wait_for(lambda: ProcessInstance.objects.filter(state="COMPLETED").count() == len(acked), timeout=60)


def test_a_long_poll_that_loses_its_connection_still_returns_the_job(creds, web, start_worker):
    deploy(creds.tenant, [Resource("order.bpmn", bpmn_file("hello-service-task.bpmn"))], timezone.now())
    start_worker()
    got: dict[str, httpx.Response] = {}

    def poll() -> None:
        got["resp"] = httpx.post(web.url + "/v2/jobs/activation", headers={"Authorization": creds.header},
                                 json={"type": "payment", "maxJobsToActivate": 1, "timeout": 60000,
                                       "requestTimeout": 20000}, timeout=40)

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(1.5)  # the request is waiting
    assert kill_backends() >= 1
    start_instance(creds.tenant, find_definition(creds.tenant, process_id="order-process"), {}, "test",
                   timezone.now())
    thread.join(timeout=40)
    assert got["resp"].status_code == 200, got["resp"].text
    assert len(got["resp"].json()["jobs"]) == 1


def test_pages_answer_503_not_500_when_the_database_is_gone(creds):
    from django.test import RequestFactory

    from flowsync.dbfaults import DatabaseFaultMiddleware

    calls: list[int] = []

    def view(request):  # type: ignore[no-untyped-def]
        from django.core.handlers.exception import response_for_exception

        calls.append(1)
        try:
            with connection.cursor() as cur:
                cur.execute("UPDATE flowsync_tenant SET name = name")  # a write in autocommit: may have committed
                cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        except Exception as exc:  # noqa: BLE001 - what Django's handler does with an uncaught exception
            return response_for_exception(request, exc)
        raise AssertionError("the backend survived")

    response = DatabaseFaultMiddleware(view)(RequestFactory().get("/tasks/"))
    assert response.status_code == 503 and response["Retry-After"]
    assert response["Content-Type"].startswith("text/html")
    assert calls == [1]  # not retried: the write may have committed

    calls.clear()

    def read_view(request):  # type: ignore[no-untyped-def]
        from django.core.handlers.exception import response_for_exception
        from django.http import HttpResponse

        calls.append(1)
        try:
            with connection.cursor() as cur:
                if len(calls) == 1:
                    cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")
                cur.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001
            return response_for_exception(request, exc)
        return HttpResponse("ok")

    response = DatabaseFaultMiddleware(read_view)(RequestFactory().get("/v2/topology"))
    assert response.status_code == 200 and calls == [1, 1]  # a read is retried once, on a new connection


def through_dbfaults(calls: list[int], work: Callable[[], None]) -> HttpResponse:
    """A POST to a view that counts its runs and does `work`, through the database-fault middleware; an
    exception is answered as Django's handler answers it."""
    from django.core.handlers.exception import response_for_exception
    from django.test import RequestFactory

    from flowsync.dbfaults import DatabaseFaultMiddleware

    def view(request):  # type: ignore[no-untyped-def]
        calls.append(1)
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - what Django's handler does with an uncaught exception
            return response_for_exception(request, exc)
        return HttpResponse("ok")

    return DatabaseFaultMiddleware(view)(RequestFactory().post("/v2/x", {"a": "1"}))


def lose_the_connection_the_first_time(calls: list[int]) -> None:
    if len(calls) == 1:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")


def _terminate_from_outside(pid: int) -> None:
    import psycopg

    wanted = ("dbname", "user", "password", "host", "port")
    params = {k: v for k, v in connection.get_connection_params().items() if k in wanted}
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_transaction_that_died_before_its_commit_is_retried_one_that_died_in_it_is_not(creds):
    from django.core.handlers.exception import response_for_exception
    from django.db import transaction
    from django.http import HttpResponse
    from django.test import RequestFactory

    from flowsync.dbfaults import DatabaseFaultMiddleware
    from flowsync.models import Tenant

    calls: list[int] = []

    def dies_before_commit(request):  # type: ignore[no-untyped-def]
        calls.append(1)
        try:
            with transaction.atomic():
                Tenant.objects.filter(pk=creds.tenant.pk).update(name=f"try {len(calls)}")
                lose_the_connection_the_first_time(calls)
        except Exception as exc:  # noqa: BLE001
            return response_for_exception(request, exc)
        return HttpResponse("ok")

    response = DatabaseFaultMiddleware(dies_before_commit)(RequestFactory().post("/v2/x", {"a": "1"}))
    assert response.status_code == 200 and calls == [1, 1]
    assert Tenant.objects.get(pk=creds.tenant.pk).name == "try 2"  # the first try was rolled back

    calls.clear()

    def dies_in_commit(request):  # type: ignore[no-untyped-def]
        calls.append(1)
        try:
            with transaction.atomic():
                Tenant.objects.filter(pk=creds.tenant.pk).update(name="committed?")
                with connection.cursor() as cur:
                    cur.execute("SELECT pg_backend_pid()")
                    _terminate_from_outside(cur.fetchone()[0])
        except Exception as exc:  # noqa: BLE001
            return response_for_exception(request, exc)
        return HttpResponse("ok")

    response = DatabaseFaultMiddleware(dies_in_commit)(RequestFactory().post("/v2/x", {"a": "1"}))
    assert response.status_code == 503 and calls == [1]
    assert response["Content-Type"] == "application/problem+json" and b'"status": 503' in response.content


def test_a_raw_write_outside_a_transaction_is_not_retried(creds):
    """engine/store/sql.execute sends its statements around Django's cursors (a start's one statement, a
    job completion's): a connection that dies after such a write may have committed it, so the request
    must not run again (a second instance for one acknowledged start)."""
    from engine.store import sql
    from flowsync.models import Tenant

    calls: list[int] = []

    def write() -> None:
        sql.execute("UPDATE flowsync_tenant SET name = %s WHERE id = %s", [f"try {len(calls)}", creds.tenant.pk])
        lose_the_connection_the_first_time(calls)

    response = through_dbfaults(calls, write)
    assert response.status_code == 503 and calls == [1]
    assert Tenant.objects.get(pk=creds.tenant.pk).name == "try 1"  # committed by itself, and only once

    # A statement that is harmless to run again (a job activation) leaves the request free to run again.
    calls.clear()

    def repeatable() -> None:
        sql.execute("UPDATE flowsync_tenant SET name = 'again' WHERE id = %s", [creds.tenant.pk], repeatable=True)
        lose_the_connection_the_first_time(calls)

    response = through_dbfaults(calls, repeatable)
    assert response.status_code == 200 and calls == [1, 1]
