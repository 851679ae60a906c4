"""Opening a task, claiming (race-free), unclaiming and handing over; 404 for anyone else's task."""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections
from django.test import Client

from engine.actions.task_claims import claim_task, hand_over_task, unclaim_task
from engine.actions.user_tasks import assign_user_task
from engine.errors import Conflict
from engine.models import Command, Event, UserTask
from engine.runtime.loop import drain
from tests.tasklist.conftest import login, make_user, messages_of, start_invoice

pytestmark = pytest.mark.django_db


def test_detail_shows_what_the_person_needs(invoice, alice):
    task = start_invoice(invoice, "INV-42")
    response = login(alice).get(f"/tasks/{task.key}/?list=offered")
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("Approve invoice", "Invoice approval", "version 1", "INV-42", "accounting", "Unassigned",
                 "Claim", str(task.process_instance_key)):
        assert text in html, text
    # The variables the form reads: its inputs and the {{ supplier }} placeholder, not the rest.
    assert dict(response.context["variables"]) == {"amount": "1250.5", "supplier": '"Globex Ltd"'}
    assert response.context["form_html"] == ""  # the form is for the assignee


def test_claim_unclaim_round_trip_records_engine_events(invoice, alice):
    task = start_invoice(invoice)
    client = login(alice)
    response = client.post(f"/tasks/{task.key}/claim/", {"list": "offered"}, follow=True)
    assert response.status_code == 200
    assert UserTask.objects.get(key=task.key).assignee == "alice"
    assert "You claimed “Approve invoice”." in messages_of(response)
    assert response.context["mine"] and 'id="complete-form"' in response.content.decode()
    drain()
    response = client.post(f"/tasks/{task.key}/unclaim/", follow=True)
    assert UserTask.objects.get(key=task.key).assignee == ""
    drain()
    events = Event.objects.filter(process_instance_key=task.process_instance_key).order_by("id")
    intents = [r["intent"] for e in events
               for r in e.records if r["intent"].startswith("USER_TASK_")]
    assert intents == ["USER_TASK_CREATED", "USER_TASK_ASSIGNED", "USER_TASK_UNASSIGNED"]
    assert UserTask.objects.get(key=task.key).assignee == ""


def test_second_claim_sees_who_won(invoice, alice, bob):
    task = start_invoice(invoice)
    alice_client, bob_client = login(alice), login(bob)
    bob_page = bob_client.get(f"/tasks/{task.key}/")
    assert bob_page.context["can_claim"]  # bob's page still offers the claim…
    alice_client.post(f"/tasks/{task.key}/claim/")
    response = bob_client.post(f"/tasks/{task.key}/claim/", follow=True)  # …but alice was faster
    assert "This task was already claimed by alice." in messages_of(response)
    assert UserTask.objects.get(key=task.key).assignee == "alice"
    assert "Assigned to alice" in response.content.decode()
    assert Command.objects.filter(kind="ASSIGN_USER_TASK").count() == 1


def race(names: list[str], claim) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Everyone calls claim(name) at the same moment; name → "won" or the Conflict's detail."""
    barrier = threading.Barrier(len(names))
    outcomes: dict[str, str] = {}

    def attempt(name: str) -> None:
        try:
            barrier.wait()
            claim(name)
            outcomes[name] = "won"
        except Conflict as exc:
            outcomes[name] = exc.detail
        finally:
            close_old_connections()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == len(names)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_have_exactly_one_winner(invoice, alice):
    task = start_invoice(invoice)
    outcomes = race([f"user{i}" for i in range(8)],
                    lambda name: claim_task([invoice.tenant.pk], task.key, name, name, invoice.now()))
    winners = [n for n, o in outcomes.items() if o == "won"]
    assert len(winners) == 1
    assert UserTask.objects.get(key=task.key).assignee == winners[0]
    losers = {o for n, o in outcomes.items() if n not in winners}
    assert losers == {f"This task was already claimed by {winners[0]}."}


@pytest.mark.django_db(transaction=True)
def test_concurrent_api_claims_have_exactly_one_winner(invoice, alice):
    # POST /v2/user-tasks/{key}/assignment with allowOverride=false: the same race as the Tasklist's.
    task = start_invoice(invoice)
    outcomes = race([f"user{i}" for i in range(8)], lambda name: assign_user_task(
        [invoice.tenant.pk], task.key, name, name, invoice.now(), allow_override=False))
    winners = [n for n, o in outcomes.items() if o == "won"]
    assert len(winners) == 1
    drain()
    assert UserTask.objects.get(key=task.key).assignee == winners[0]
    assert Command.objects.filter(kind="ASSIGN_USER_TASK").count() == 1


def test_unclaim_and_hand_over_are_for_the_assignee(invoice, alice, bob, carol):
    task = start_invoice(invoice)
    tenants = [invoice.tenant.pk]
    claim_task(tenants, task.key, "alice", "alice", invoice.now())
    with pytest.raises(Conflict, match="assigned to alice, not to you"):
        unclaim_task(tenants, task.key, "bob", "bob", invoice.now())
    with pytest.raises(Conflict, match="assigned to alice, not to you"):
        hand_over_task(tenants, task.key, "bob", "carol", "bob", invoice.now())

    client = login(alice)
    page = client.get(f"/tasks/{task.key}/")
    assert page.context["handover_choices"] == ["bob"]  # carol is not in the candidate group
    response = client.post(f"/tasks/{task.key}/assignee/", {"assignee": "carol"}, follow=True)
    assert "Choose one of the task's candidates" in messages_of(response)[0]
    response = client.post(f"/tasks/{task.key}/assignee/", {"assignee": "bob"}, follow=True)
    assert "You handed “Approve invoice” over to bob." in messages_of(response)
    assert UserTask.objects.get(key=task.key).assignee == "bob"
    assert [t.key for t in login(bob).get("/tasks/assigned/").context["page"].items] == [task.key]
    # alice (still a candidate) may look at it, but no longer work on it.
    page = client.get(f"/tasks/{task.key}/")
    assert page.status_code == 200 and not page.context["mine"] and not page.context["can_claim"]


def test_someone_elses_task_is_404_by_url(invoice, alice, carol, globex, globex_flow):
    task = start_invoice(invoice)
    claim_task([invoice.tenant.pk], task.key, "alice", "alice", invoice.now())
    carol_client = login(carol)  # same tenant, not a candidate
    assert carol_client.get(f"/tasks/{task.key}/").status_code == 404
    assert carol_client.post(f"/tasks/{task.key}/claim/").status_code == 404
    assert carol_client.post(f"/tasks/{task.key}/complete/", {"approverName": "Carol"}).status_code == 404
    # Another tenant, even in the right group.
    outsider = login(make_user("gina", [globex], ("accounting",)))
    for url in (f"/tasks/{task.key}/", f"/tasks/{task.key}/claim/", f"/tasks/{task.key}/unclaim/",
                f"/tasks/{task.key}/assignee/", f"/tasks/{task.key}/complete/"):
        method = outsider.get if url.count("/") == 3 else outsider.post
        assert method(url).status_code == 404, url
    assert login(alice).get("/tasks/999999999/").status_code == 404
    assert UserTask.objects.get(key=task.key).assignee == "alice"


def test_operator_with_permission_sees_and_can_unassign_any_task(invoice, alice, operator):
    task = start_invoice(invoice)
    claim_task([invoice.tenant.pk], task.key, "alice", "alice", invoice.now())
    client = login(operator)
    page = client.get(f"/tasks/{task.key}/")
    assert page.status_code == 200 and page.context["can_unclaim"]
    client.post(f"/tasks/{task.key}/unclaim/")
    assert UserTask.objects.get(key=task.key).assignee == ""


def test_forms_need_csrf_and_post(invoice, alice):
    task = start_invoice(invoice)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(f"/tasks/{task.key}/claim/").status_code == 403
    assert client.get(f"/tasks/{task.key}/claim/").status_code == 405
    assert UserTask.objects.get(key=task.key).assignee == ""
    page = client.get(f"/tasks/{task.key}/")
    assert b'name="csrfmiddlewaretoken"' in page.content


def test_detail_page_query_count(invoice, alice, django_assert_max_num_queries):
    task = start_invoice(invoice)
    claim_task([invoice.tenant.pk], task.key, "alice", "alice", invoice.now())
    client = login(alice)
    client.get(f"/tasks/{task.key}/")  # warm the session and the definition cache
    with django_assert_max_num_queries(11):
        response = client.get(f"/tasks/{task.key}/")
    assert response.context["mine"] and response.context["form_html"]


def test_loser_of_a_claim_keeps_the_list_they_came_from(invoice, alice, bob):
    task = start_invoice(invoice)
    claim_task([invoice.tenant.pk], task.key, "alice", "alice", invoice.now())
    response = login(bob).post(f"/tasks/{task.key}/claim/", {"list": "offered"})
    assert response["Location"] == f"/tasks/{task.key}/?list=offered"


def test_inspector_link_is_for_operators_of_the_tenant(invoice, alice, acme):
    from flowsync.models import Membership

    task = start_invoice(invoice)
    assert login(alice).get(f"/tasks/{task.key}/").context["inspector_url"] == ""
    Membership.objects.filter(user=alice, tenant=acme).update(role=Membership.Role.OPERATOR)
    page = login(alice).get(f"/tasks/{task.key}/")
    assert page.context["inspector_url"] == f"/inspector/instances/{task.process_instance_key}/"
    assert f'href="/inspector/instances/{task.process_instance_key}/"' in page.content.decode()
