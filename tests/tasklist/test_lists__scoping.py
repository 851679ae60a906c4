"""Who sees what: assigned / offered / completed / all open, counts, and tenant isolation."""

from __future__ import annotations

import pytest
from django.test import Client

from engine.actions.task_claims import claim_task
from engine.models import UserTask
from tests.tasklist.conftest import login, make_user, start_invoice

pytestmark = pytest.mark.django_db


def keys_in(response) -> list[int]:  # type: ignore[no-untyped-def]
    return [t.key for t in response.context["page"].items]


def test_login_is_required(db):
    response = Client().get("/tasks/offered/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/tasks/offered/")


def test_login_page_logs_in_and_lands_on_tasks(alice):
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b'name="csrfmiddlewaretoken"' in page.content
    response = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery staple"})
    assert response.status_code == 302 and response["Location"] == "/tasks/"
    assert client.get("/tasks/").status_code == 302
    assert client.get("/tasks/assigned/").status_code == 200


def test_offered_task_is_listed_for_candidate_groups_only(invoice, alice, carol):
    task = start_invoice(invoice)
    response = login(alice).get("/tasks/offered/")
    assert keys_in(response) == [task.key]
    tabs = {t["name"]: t["count"] for t in response.context["tabs"]}
    assert tabs == {"assigned": "0", "offered": "1", "completed": "0"}
    assert "Approve invoice" in response.content.decode()
    assert keys_in(login(carol).get("/tasks/offered/")) == []


def test_claimed_task_moves_from_offered_to_assigned(invoice, alice, bob):
    task = start_invoice(invoice)
    claim_task([invoice.tenant.pk], task.key, "alice", "alice", invoice.now())
    assert keys_in(login(alice).get("/tasks/assigned/")) == [task.key]
    assert keys_in(login(alice).get("/tasks/offered/")) == []
    assert keys_in(login(bob).get("/tasks/offered/")) == []


def test_candidate_user_sees_the_task_offered(flow, acme):
    flow.deploy("expense-claim.bpmn", "expense-claim-form.form", "expense-review.schema.json")
    dave = make_user("dave", [acme])
    key = flow.start("expense-claim", requester="erin", reviewer="dave")
    submit = flow.open_task(key)
    assert submit.assignee == "erin"
    assert keys_in(login(dave).get("/tasks/offered/")) == []  # the first task is assigned to erin
    # Move on to the review, offered to candidate user dave.
    from engine.actions.user_tasks import complete_user_task
    from engine.runtime.loop import drain

    complete_user_task([acme.pk], submit.key, {"expense": {"description": "Taxi", "amount": 20, "kind": "travel"}},
                       "erin", flow.now())
    drain()
    review = flow.open_task(key)
    assert keys_in(login(dave).get("/tasks/offered/")) == [review.key]


def test_all_open_needs_the_permission(invoice, alice, operator):
    task = start_invoice(invoice)
    assert login(alice).get("/tasks/all/").status_code == 404
    response = login(operator).get("/tasks/all/")
    assert response.status_code == 200 and keys_in(response) == [task.key]
    assert {t["name"] for t in response.context["tabs"]} == {"assigned", "offered", "completed", "all"}


def test_tenant_isolation_of_lists(invoice, globex_flow, globex, alice):
    start_invoice(invoice)
    globex_flow.deploy("invoice-approval.bpmn")
    start_invoice(globex_flow, "G-1")
    stranger = make_user("gina", [globex], ("accounting",))
    [acme_task] = keys_in(login(alice).get("/tasks/offered/"))
    [globex_task] = keys_in(login(stranger).get("/tasks/offered/"))
    assert acme_task != globex_task
    assert UserTask.objects.get(key=globex_task).tenant == globex


def test_tenant_switch_changes_the_lists(invoice, globex_flow, acme, globex):
    both = make_user("max", [acme, globex], ("accounting",))
    a = start_invoice(invoice)
    globex_flow.deploy("invoice-approval.bpmn")
    g = start_invoice(globex_flow, "G-1")
    client = login(both)
    first = client.get("/tasks/offered/")
    assert keys_in(first) == [a.key]
    assert b'name="tenant"' in first.content  # the switch is shown to members of several tenants
    response = client.post("/tasks/tenant/", {"tenant": "globex"})
    assert response.status_code == 302
    assert keys_in(client.get("/tasks/offered/")) == [g.key]
    assert client.get(f"/tasks/{a.key}/").status_code == 404  # acme's task is out of scope now
    # A tenant one is not a member of cannot be chosen.
    outsider = Client()
    outsider.force_login(make_user("nia", [acme]))
    outsider.post("/tasks/tenant/", {"tenant": "globex"})
    assert outsider.get("/tasks/assigned/").context["request"].tasklist.tenant == acme


def test_user_without_tenant_gets_a_clear_page(db):
    client = login(make_user("lonely", []))
    response = client.get("/tasks/assigned/")
    assert response.status_code == 403 and b"not a member of any tenant" in response.content


def test_list_page_query_count_does_not_grow_with_rows(invoice, alice, django_assert_max_num_queries):
    for i in range(30):
        start_invoice(invoice, f"INV-{i}")
    client = login(alice)
    client.get("/tasks/offered/")  # warm the session
    with django_assert_max_num_queries(12):
        response = client.get("/tasks/offered/")
    assert len(keys_in(response)) == 25
