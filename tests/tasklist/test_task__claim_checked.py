"""Claiming in the Tasklist a task whose process checks assignments (Camunda 8.8 `assigning` task listeners): the
claim is not final until the listener agreed; the page says it waits, or that it was refused and why."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import close_old_connections

from engine.actions.jobs import activate_jobs, complete_job
from engine.models import Job, UserTask
from engine.runtime.loop import drain
from tests.tasklist.conftest import Flow, login, messages_of

pytestmark = pytest.mark.django_db


def answer(flow: Flow, result: dict) -> None:
    [job] = activate_jobs([flow.tenant.pk], "tl-claim-check", "checker", 60_000, 1, flow.now())
    assert job.listener_event_type == "ASSIGNING"
    complete_job([flow.tenant.pk], job.key, {}, "checker", flow.now(), result=result)
    drain()


def test_a_claim_waits_for_the_check_and_may_be_refused(flow, alice, bob, settings):
    settings.FLOWSYNC_TASKLIST_LISTENER_WAIT_SECONDS = 0.2  # the check is answered below, after the page
    flow.deploy("claim-checked.bpmn")
    task = flow.open_task(flow.start("claim-checked"))
    response = login(alice).post(f"/tasks/{task.key}/claim/", {"list": "offered"}, follow=True)
    assert any("waits for the process's check" in m for m in messages_of(response)), messages_of(response)
    assert "Assigning…" in response.content.decode()
    assert UserTask.objects.get(key=task.key).state == "ASSIGNING"
    # Meanwhile nobody else can claim it, and it is in nobody's list.
    response = login(bob).post(f"/tasks/{task.key}/claim/", {"list": "offered"}, follow=True)
    assert any("task listeners are at work" in m for m in messages_of(response)), messages_of(response)
    assert task.key not in [t.key for t in login(bob).get("/tasks/offered/").context["page"].items]
    drain()
    answer(flow, {"denied": True, "deniedReason": "alice is on leave"})
    assert (UserTask.objects.get(key=task.key).state, UserTask.objects.get(key=task.key).assignee) == ("CREATED", "")

    # A second claim after the refusal: the page tells the reason of an earlier refusal only once.
    response = login(bob).post(f"/tasks/{task.key}/claim/", {"list": "offered"}, follow=True)
    assert not any("alice is on leave" in m for m in messages_of(response))
    drain()
    answer(flow, {})
    assert (UserTask.objects.get(key=task.key).state, UserTask.objects.get(key=task.key).assignee) == (
        "CREATED", "bob")
    assert "Assigned to you" in login(bob).get(f"/tasks/{task.key}/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_page_waits_for_the_check_and_tells_the_refusal(flow, alice):
    flow.deploy("claim-checked.bpmn")
    task = flow.open_task(flow.start("claim-checked"))

    def checker() -> None:  # a listener worker answering while the page waits
        try:
            # The listener's job exists once the page's claim is written and applied (slow on a busy machine).
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                drain()
                if Job.objects.filter(tenant=flow.tenant, type="tl-claim-check", state="ACTIVATABLE").exists():
                    break
                time.sleep(0.05)
            answer(flow, {"denied": True, "deniedReason": "alice is on leave"})
        finally:
            close_old_connections()

    thread = threading.Thread(target=checker)
    thread.start()
    response = login(alice).post(f"/tasks/{task.key}/claim/", {"list": "offered"}, follow=True)
    thread.join()
    assert any("was refused by the process's check: alice is on leave" in m for m in messages_of(response)), (
        messages_of(response))
    assert (UserTask.objects.get(key=task.key).state, UserTask.objects.get(key=task.key).assignee) == ("CREATED", "")
