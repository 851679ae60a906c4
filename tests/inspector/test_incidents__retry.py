from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rq import SimpleWorker

from engine.actions.jobs import complete_job
from engine.actions.user_tasks import complete_user_task
from engine.models import BatchOperation, Command, Incident, Job, ProcessInstance
from engine.runtime.loop import drain
from flowsync import redis
from flowsync.models import AuditEntry

pytestmark = pytest.mark.django_db


def state(key: int) -> str:
    return ProcessInstance.objects.get(key=key).state


def test_resolve_an_incident_end_to_end(op_client, flow, operator):
    key = flow.start("ORD-1")
    incident = flow.fail_to_incident(key)
    job = Job.objects.get(key=incident.job_key)
    assert job.retries == 0 and ProcessInstance.objects.get(key=key).has_incident
    page = op_client.get(f"/inspector/instances/{key}/").content.decode()
    assert f'action="/inspector/incidents/{incident.key}/retry/"' in page

    response = op_client.post(f"/inspector/incidents/{incident.key}/retry/", {"retries": "2"}, follow=True)
    assert response.status_code == 200
    assert f"Incident {incident.key} was resolved" in response.content.decode()
    drain()
    incident.refresh_from_db()
    job.refresh_from_db()
    assert incident.state == "RESOLVED" and job.retries == 2
    assert Command.objects.get(kind="RESOLVE_INCIDENT", process_instance_key=key).actor == operator.username
    assert not ProcessInstance.objects.get(key=key).has_incident

    # The job is activatable again; a worker completes it and the instance runs to its end.
    (again,) = flow.activate()
    assert again.key == job.key
    complete_job(flow.ids, again.key, {"charged": True}, "worker-1", flow.now())
    drain()
    complete_user_task(flow.ids, flow.open_task(key).key, {}, "clerk", flow.now())
    drain()
    assert state(key) == "COMPLETED"
    data = op_client.get(f"/inspector/instances/{key}/diagram.json").json()
    assert data["elements"]["Charge"] == {"active": 0, "completed": 1, "incidents": 0}


def test_resolving_twice_is_a_message_not_an_error(op_client, flow):
    key = flow.start()
    incident = flow.fail_to_incident(key)
    op_client.post(f"/inspector/incidents/{incident.key}/retry/", {"retries": "1"})
    drain()
    response = op_client.post(f"/inspector/incidents/{incident.key}/retry/", {"retries": "1"}, follow=True)
    assert response.status_code == 200
    assert "was not resolved" in response.content.decode() and "RESOLVED" in response.content.decode()
    assert Command.objects.filter(kind="RESOLVE_INCIDENT").count() == 1


def test_bad_retries_are_refused(op_client, flow):
    key = flow.start()
    incident = flow.fail_to_incident(key)
    for bad in ("0", "-3", "many"):
        response = op_client.post(f"/inspector/incidents/{incident.key}/retry/", {"retries": bad}, follow=True)
        assert response.status_code == 200 and "Retries must be" in response.content.decode()
    incident.refresh_from_db()
    assert incident.state == "ACTIVE" and Job.objects.get(key=incident.job_key).retries == 0


def run_queued_batches() -> None:
    SimpleWorker([redis.queue("connectors")], connection=redis.connection("connectors")).work(burst=True)


def test_incident_list_and_batch_retry(op_client, flow, flush_redis, django_capture_on_commit_callbacks):
    """"Retry selected" is a resolve-incidents batch with retries (the shared mechanism), shown on its live page."""
    keys = [flow.start(f"B-{n}") for n in range(3)]
    incidents = [flow.fail_to_incident(k) for k in keys]
    listing = op_client.get("/inspector/incidents/")
    html = listing.content.decode()
    assert listing.context["count"] == 3 and "Retry all 3 active matching" in html
    for k, inc in zip(keys, incidents, strict=True):
        assert f'href="/inspector/instances/{k}/#incidents"' in html and f'value="{inc.key}"' in html
    chosen = [str(incidents[0].key), str(incidents[2].key)]
    with django_capture_on_commit_callbacks(execute=True):
        response = op_client.post("/inspector/incidents/retry/", {"incident": chosen, "retries": "2",
                                                                 "scope": "selected"})
    batch = BatchOperation.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/inspector/batches/{batch.pk}/"
    assert batch.kind == "resolve-incidents" and batch.keys == sorted(chosen) and batch.params == {"retries": 2}
    assert Command.objects.filter(kind="RESOLVE_INCIDENT").count() == 0  # nothing done in the request
    run_queued_batches()
    batch.refresh_from_db()
    assert batch.state == "DONE" and sorted(batch.done) == sorted(chosen) and not batch.failed
    page = op_client.get(f"/inspector/batches/{batch.pk}/").content.decode()
    assert '<span id="batch-handled">2</span>/<span id="batch-total">2</span>' in page
    drain()
    states = dict(Incident.objects.values_list("key", "state"))
    assert [states[i.key] for i in incidents] == ["RESOLVED", "ACTIVE", "RESOLVED"]
    assert Job.objects.get(key=incidents[0].job_key).retries == 2
    assert {j.process_instance_key for j in flow.activate()} == {keys[0], keys[2]}
    assert op_client.get("/inspector/incidents/").context["count"] == 1
    assert op_client.get("/inspector/incidents/", {"state": "RESOLVED"}).context["count"] == 2
    assert list(AuditEntry.objects.filter(what__in=["batch.create", "incident.resolve"]).order_by("id")
                .values_list("what", flat=True)) == ["batch.create", "incident.resolve", "incident.resolve"]
    # Nothing selected, bad retries: messages, nothing queued, no 500.
    empty = op_client.post("/inspector/incidents/retry/", {"retries": "1"}, follow=True)
    assert "Select at least one incident" in empty.content.decode()
    bad = op_client.post("/inspector/incidents/retry/", {"incident": chosen, "retries": "0"}, follow=True)
    assert "Retries must be" in bad.content.decode() and BatchOperation.objects.count() == 1
    # A resolved one selected again: the batch skips it, with the reason.
    with django_capture_on_commit_callbacks(execute=True):
        op_client.post("/inspector/incidents/retry/", {"incident": chosen[:1], "retries": "1"})
    run_queued_batches()
    again = BatchOperation.objects.order_by("-id").first()
    assert again.skipped == {chosen[0]: "already RESOLVED"} and not again.done
    # "Retry all matching": every active incident the filter finds (not only the page).
    with django_capture_on_commit_callbacks(execute=True):
        op_client.post("/inspector/incidents/retry/", {"retries": "1", "scope": "filter", "process": "inspect-order"})
    run_queued_batches()
    every = BatchOperation.objects.order_by("-id").first()
    assert every.done == [str(incidents[1].key)] and every.selection["scope"] == "filter"


def test_management_command_retries_all_active_incidents(flow, other_flow):
    mine = [flow.start() for _ in range(2)]
    for k in mine:
        flow.fail_to_incident(k)
    theirs = other_flow.start()
    other_flow.fail_to_incident(theirs)
    out = StringIO()
    call_command("inspector_retry_incidents", "--tenant", flow.tenant.tenant_id, "--dry-run", stdout=out)
    assert len(out.getvalue().strip().splitlines()) == 2
    assert Incident.objects.filter(state="ACTIVE").count() == 3
    call_command("inspector_retry_incidents", "--tenant", flow.tenant.tenant_id, "--process", "inspect-order",
                 stdout=out)
    drain()
    assert "resolved 2 incident(s)" in out.getvalue()
    assert set(Incident.objects.filter(state="ACTIVE").values_list("process_instance_key", flat=True)) == {theirs}
    assert Job.objects.filter(process_instance_key__in=mine, state="ACTIVATABLE", retries=1).count() == 2
    assert set(Command.objects.filter(kind="RESOLVE_INCIDENT").values_list("actor", flat=True)) == {
        "cli:inspector_retry_incidents"}
    with pytest.raises(CommandError):
        call_command("inspector_retry_incidents", "--tenant", "nope")
    call_command("inspector_retry_incidents", stdout=out)
    drain()
    assert not Incident.objects.filter(state="ACTIVE").exists()
