"""The remaining node kinds (email, wait_for_event, subflow), timeouts, and failure handling of jobs."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from engine.actions.flows import set_trigger_enabled
from engine.actions.jobs import activate_jobs, fail_job, throw_error
from engine.actions.messages import publish_message
from engine.flows.validate import validate
from engine.models import Incident, Job, ProcessInstance, StepLog, Timer
from engine.timers.firing import fire_due_timers

pytestmark = pytest.mark.django_db


def _doc(nodes, edges=(), **extra):
    return {"id": extra.pop("id", "f"), "nodes": list(nodes), "edges": list(edges), **extra}


def test_email_node_sends_through_the_mail_backend(flows, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    key = flows.run(_doc([{"id": "tell", "kind": "email", "to": "=who", "subject": "Order", "body": "=\"Hi \" + who",
                           "from": "flows@example.com"}]), who="ada@example.com")
    assert flows.state(key) == "COMPLETED"
    [message] = mail.outbox
    assert message.to == ["ada@example.com"] and message.body == "Hi ada@example.com"
    [log] = StepLog.objects.filter(process_instance_key=key)
    assert log.lines == ["-> mail from flows@example.com to ada@example.com", "-> subject Order",
                         "-> body Hi ada@example.com", "<- sent (1)"]


def test_wait_for_event_resumes_on_the_correlated_message(flows):
    key = flows.run(_doc([
        {"id": "paid", "kind": "wait_for_event", "message": "payment", "correlation": "=orderId"},
        {"id": "ship", "kind": "transform", "set": {"shipped": "true"}},
    ], [{"from": "paid", "to": "ship"}]), orderId="O-1")
    assert flows.state(key) == "ACTIVE"
    publish_message(flows.tenant, "payment", "O-1", 0, "", {"amount": 5}, "test", flows.now)
    flows.settle()
    assert flows.state(key) == "COMPLETED" and flows.variables(key)["amount"] == 5 and flows.ran(key) == {
        "paid", "ship"}


def test_subflow_runs_another_flow_and_brings_its_variables_back(flows):
    flows.deploy(_doc([{"id": "inner", "kind": "transform", "set": {"doubled": "n * 2"}}], id="child"))
    key = flows.run(_doc([{"id": "call", "kind": "subflow", "flow": "child"}], id="parent"), n=21)
    assert flows.state(key) == "COMPLETED" and flows.variables(key)["doubled"] == 42


def test_timeout_fails_the_run_by_default_and_continues_when_asked(flows):
    key = flows.run(_doc([{"id": "slow", "kind": "job", "type": "slow-work", "timeout": "PT10S"}], id="t1"))
    flows.now += timedelta(seconds=11)
    fire_due_timers(flows.now)
    flows.settle()
    assert flows.variables(key)["flowError"]["code"] == "TIMEOUT"
    assert flows.state(key) == "COMPLETED" and Job.objects.get(process_instance_key=key).state == "CANCELED"

    key = flows.run(_doc([
        {"id": "slow", "kind": "job", "type": "slow-work", "timeout": "PT10S", "on_failure": "continue"},
        {"id": "after", "kind": "transform", "set": {"went_on": "true"}, "join": "all_done"},
    ], [{"from": "slow", "to": "after"}], id="t2"))
    flows.now += timedelta(seconds=11)
    fire_due_timers(flows.now)
    flows.settle()
    assert flows.variables(key).get("went_on") is True and "flowError" not in flows.variables(key)
    assert not Timer.objects.filter(process_instance_key=key, state="ACTIVE").exists()


def test_a_job_whose_worker_gives_up_continues_or_raises_an_incident(flows):
    doc = _doc([
        {"id": "work", "kind": "job", "type": "ext", "retry": {"max_attempts": 2,
                                                              "backoff": {"initial": "PT0S", "max": "PT0S"}}},
        {"id": "after", "kind": "transform", "set": {"after": "true"}, "join": "all_done"},
    ], [{"from": "work", "to": "after"}])

    def give_up(key: int) -> None:
        for attempt in (2, 1):
            [job] = activate_jobs([flows.tenant.pk], "ext", "w", 60_000, 1, flows.now)
            fail_job([flows.tenant.pk], job.key, attempt - 1, f"boom {attempt}", None, None, "w", flows.now)
        flows.settle()

    key = flows.run(doc)
    give_up(key)
    assert Incident.objects.get(process_instance_key=key).error_type == "JOB_NO_RETRIES"
    assert [a["error"] for a in Job.objects.get(process_instance_key=key).attempts] == ["boom 2", "boom 1"]

    doc["nodes"][0]["on_failure"] = "continue"
    doc["id"] = "cont"
    key = flows.run(doc)
    give_up(key)
    assert not Incident.objects.filter(process_instance_key=key).exists()
    assert flows.state(key) == "COMPLETED" and flows.variables(key)["after"] is True

    # A BPMN error thrown by the worker is a failure too, for a node that continues.
    key = flows.run(doc)
    [job] = activate_jobs([flows.tenant.pk], "ext", "w", 60_000, 1, flows.now)
    throw_error([flows.tenant.pk], job.key, "NOPE", "no", None, "w", flows.now)
    flows.settle()
    assert ProcessInstance.objects.get(key=key).state == "COMPLETED"


def test_switch_without_a_match_or_default_is_an_incident(flows):
    key = flows.run(_doc([
        {"id": "route", "kind": "switch"}, {"id": "a", "kind": "transform", "set": {"x": "1"}},
    ], [{"from": "route", "to": "a", "when": "false"}]))
    assert Incident.objects.get(process_instance_key=key).error_type == "CONDITION_ERROR"


def test_disabling_a_schedule_cancels_its_timer_and_enabling_opens_it_again(flows):
    flows.deploy(_doc([{"id": "a", "kind": "transform", "set": {"x": "1"}}],
                      triggers=[{"id": "tick", "kind": "schedule", "cron": "*/5 * * * *"}]))

    def active() -> int:
        return Timer.objects.filter(element_id="trigger.tick", state="ACTIVE").count()

    assert active() == 1
    set_trigger_enabled(flows.tenant, "f", "tick", False, flows.now)
    assert active() == 0
    set_trigger_enabled(flows.tenant, "f", "tick", True, flows.now)
    assert active() == 1


@pytest.mark.parametrize(("misfire", "runs"), [
    (None, 1), ({"policy": "run_once"}, 1), ({"policy": "skip"}, 0), ({"policy": "catch_up", "cap": 3}, 3),
])
def test_schedule_misfire_policies_after_an_outage(flows, misfire, runs):
    trigger = {"id": "tick", "kind": "schedule", "cron": "*/5 * * * *", "timezone": "Europe/Berlin"}
    if misfire:
        trigger["misfire"] = misfire
    flows.deploy(_doc([{"id": "a", "kind": "transform", "set": {"x": "1"}}], triggers=[trigger]))
    timer = Timer.objects.get(element_id="trigger.tick", state="ACTIVE")
    later = timer.due_at + timedelta(hours=1, minutes=2)  # twelve ticks missed while nothing ran
    for _ in range(20):
        fire_due_timers(later)
    assert ProcessInstance.objects.count() == runs
    timer.refresh_from_db()
    assert later < timer.due_at <= later + timedelta(minutes=5)


def test_schedule_time_zone_and_bad_zone(flows):
    doc = _doc([{"id": "a", "kind": "transform", "set": {"x": "1"}}],
               triggers=[{"id": "nine", "kind": "schedule", "cron": "0 9 * * *", "timezone": "Europe/Berlin"}])
    flows.deploy(doc)
    timer = Timer.objects.get(element_id="trigger.nine", state="ACTIVE")
    assert timer.due_at.astimezone(ZoneInfo("Europe/Berlin")).hour == 9
    doc["triggers"][0]["timezone"] = "Mars/Olympus"
    assert [p.pointer for p in validate(doc)] == ["/triggers/0/timezone"]
