"""Completing tasks through their forms: embedded form-js, deployed .form, .schema.json, generic JSON."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

import pytest
from django.utils import timezone

from engine.actions.task_claims import claim_task
from engine.models import Command, Job, ProcessInstance, UserTask, Variable
from engine.runtime.loop import drain
from tests.tasklist.conftest import login, make_user, messages_of, start_invoice

pytestmark = pytest.mark.django_db


def claimed(flow, task, user="alice"):  # type: ignore[no-untyped-def]
    claim_task([flow.tenant.pk], task.key, user, user, flow.now())
    return task


def test_embedded_form_is_prefilled_from_variables(invoice, alice):
    task = claimed(invoice, start_invoice(invoice))
    html = login(alice).get(f"/tasks/{task.key}/").content.decode()
    assert "Invoice of Globex Ltd" in html  # {{ supplier }} in the form's text
    assert 'name="amount" value="1250.5"' in html and "disabled" in html
    assert '<label for="field-approverName">Approver name' in html
    assert 'id="complete-form"' in html and 'novalidate' in html


def test_invalid_submission_shows_errors_beside_fields_and_keeps_values(invoice, alice):
    task = claimed(invoice, start_invoice(invoice))
    client = login(alice)
    response = client.post(f"/tasks/{task.key}/complete/",
                           {"approverName": "A", "discount": "50", "costCentre": "CC-200", "approved": "true"})
    assert response.status_code == 422
    errors = response.context["error_summary"]
    assert {e["anchor"] for e in errors} == {"field-approverName", "field-discount"}
    html = response.content.decode()
    assert 'name="approverName" value="A"' in html and 'name="discount" value="50"' in html
    assert '<option value="CC-200" selected>' in html and 'name="approved" value="true" checked' in html
    assert 'aria-invalid="true"' in html and 'class="error-summary"' in html
    assert UserTask.objects.get(key=task.key).state == "CREATED"
    assert not Command.objects.filter(kind="COMPLETE_USER_TASK").exists()
    # Typed text that is not a number is kept as typed.
    response = client.post(f"/tasks/{task.key}/complete/", {"approverName": "Alice", "discount": "ten"})
    assert response.status_code == 422 and 'value="ten"' in response.content.decode()


def test_valid_submission_completes_and_the_process_moves_on(invoice, alice):
    task = claimed(invoice, start_invoice(invoice))
    client = login(alice)
    response = client.post(f"/tasks/{task.key}/complete/",
                           {"approverName": "Alice", "discount": "5", "costCentre": "CC-100", "approved": "true",
                            "amount": "1"}, follow=True)
    assert response.status_code == 200
    assert "Completed “Approve invoice”." in messages_of(response)
    drain()
    done = UserTask.objects.get(key=task.key)
    assert (done.state, done.completed_by) == ("COMPLETED", "alice")
    job = Job.objects.get(process_instance_key=task.process_instance_key)
    assert job.type == "pay-invoice"
    variables = dict(Variable.objects.filter(process_instance_id=task.process_instance_key)
                     .values_list("name", "value"))
    assert variables["approverName"] == "Alice" and variables["discount"] == 5 and variables["approved"] is True
    assert variables["amount"] == 1250.5  # a disabled field is never taken from the request
    completed = login(alice).get("/tasks/completed/")
    assert [t.key for t in completed.context["page"].items] == [task.key]
    # Completing again is refused with a message, not a crash.
    again = client.post(f"/tasks/{task.key}/complete/", {"approverName": "Alice"}, follow=True)
    assert "cannot be completed again" in messages_of(again)[0]


def test_completion_moves_to_the_next_task(invoice, alice):
    first = claimed(invoice, start_invoice(invoice, "INV-1"))
    second = claimed(invoice, start_invoice(invoice, "INV-2"))
    response = login(alice).post(f"/tasks/{second.key}/complete/",
                                 {"approverName": "Alice", "list": "assigned"})
    assert response.status_code == 302 and response["Location"] == f"/tasks/{first.key}/?list=assigned"
    response = login(alice).post(f"/tasks/{first.key}/complete/", {"approverName": "Alice", "list": "assigned"})
    assert response["Location"] == "/tasks/assigned/"


def test_only_the_assignee_completes(invoice, alice, bob):
    task = start_invoice(invoice)
    response = login(alice).post(f"/tasks/{task.key}/complete/", {"approverName": "Alice"}, follow=True)
    assert "claim it before completing it" in messages_of(response)[0]
    claim_task([invoice.tenant.pk], task.key, "bob", "bob", invoice.now())
    response = login(alice).post(f"/tasks/{task.key}/complete/", {"approverName": "Alice"}, follow=True)
    assert "assigned to bob" in messages_of(response)[0]
    assert UserTask.objects.get(key=task.key).state == "CREATED"


@pytest.fixture
def expenses(flow, acme):  # type: ignore[no-untyped-def]
    flow.deploy("expense-claim.bpmn", "expense-claim-form.form", "expense-review.schema.json")
    erin = make_user("erin", [acme], ("staff",))
    dave = make_user("dave", [acme], ("managers",))
    return flow, erin, dave


def test_deployed_formjs_form_with_nested_keys(expenses):
    flow, erin, dave = expenses
    key = flow.start("expense-claim", requester="erin", reviewer="dave")
    task = flow.open_task(key)
    client = login(erin)
    page = client.get(f"/tasks/{task.key}/")
    assert page.context["task_form"].source == "deployed" and 'name="expense.description"' in page.content.decode()
    bad = client.post(f"/tasks/{task.key}/complete/", {"expense.amount": "0", "expense.date": "2030-02-30"})
    assert bad.status_code == 422
    assert {e["anchor"] for e in bad.context["error_summary"]} == {
        "field-expense.description", "field-expense.amount", "field-expense.date", "field-expense.kind"}
    good = client.post(f"/tasks/{task.key}/complete/", {
        "expense.description": "Train to Lyon", "expense.amount": "89.90", "expense.date": "2030-02-03",
        "expense.kind": "travel"})
    assert good.status_code == 302
    drain()
    assert Variable.objects.get(process_instance_id=key, name="expense").value == {
        "description": "Train to Lyon", "amount": 89.9, "date": "2030-02-03", "kind": "travel"}
    review = flow.open_task(key)
    assert review.name == "Review the expense" and review.candidate_users == ["dave"]


def test_json_schema_form_then_generic_form(expenses):
    flow, erin, dave = expenses
    key = flow.start("expense-claim", requester="erin", reviewer="dave",
                     expense={"description": "Lunch", "amount": 12, "kind": "meals"})
    login(erin).post(f"/tasks/{flow.open_task(key).key}/complete/", {
        "expense.description": "Lunch", "expense.amount": "12", "expense.kind": "meals"})
    drain()
    review = claimed(flow, flow.open_task(key), "dave")
    client = login(dave)
    page = client.get(f"/tasks/{review.key}/")
    assert page.context["task_form"].source == "deployed" and page.context["task_form"].version == 1
    bad = client.post(f"/tasks/{review.key}/complete/", {"reviewerEmail": "not-an-email", "adjustedAmount": "-1"})
    assert bad.status_code == 422
    assert {e["anchor"] for e in bad.context["error_summary"]} == {
        "field-decision", "field-reviewerEmail", "field-adjustedAmount"}
    assert 'value="not-an-email"' in bad.content.decode()
    good = client.post(f"/tasks/{review.key}/complete/", {
        "decision": "approve", "reviewerEmail": "dave@example.com", "tags": "urgent\nlunch",
        "notes.internal": "ok"})
    assert good.status_code == 302
    drain()
    values = dict(Variable.objects.filter(process_instance_id=key).values_list("name", "value"))
    assert values["decision"] == "approve" and values["tags"] == ["urgent", "lunch"]
    assert values["notes"] == {"internal": "ok"}

    # The last task has no form: the generic JSON editor, prefilled with the variables.
    archive = claimed(flow, flow.open_task(key), "erin")
    client = login(erin)
    page = client.get(f"/tasks/{archive.key}/")
    assert page.context["task_form"].is_generic and 'name="variables"' in page.content.decode()
    bad = client.post(f"/tasks/{archive.key}/complete/", {"variables": "[1, 2"})
    assert bad.status_code == 422 and "[1, 2" in bad.content.decode()
    good = client.post(f"/tasks/{archive.key}/complete/", {"variables": '{"filed": true}'})
    assert good.status_code == 302
    drain()
    assert ProcessInstance.objects.get(key=key).state == "COMPLETED"
    assert Variable.objects.get(process_instance_id=key, name="filed").value is True


def test_missing_deployed_form_is_explained_and_blocks_completion(flow, acme):
    flow.deploy("expense-claim.bpmn")  # without its forms
    client = login(make_user("erin", [acme], ("staff",)))
    key = flow.start("expense-claim", requester="erin")
    task = flow.open_task(key)
    page = client.get(f"/tasks/{task.key}/")
    assert "no form with id &#x27;expense-claim-form&#x27; is deployed" in page.content.decode()
    response = client.post(f"/tasks/{task.key}/complete/", {"variables": "{}"}, follow=True)
    assert "cannot be shown" in messages_of(response)[0]
    assert UserTask.objects.get(key=task.key).state == "CREATED"


def test_dates_are_shown_in_the_persons_time_zone(invoice, alice):
    due = (timezone.now() + timedelta(days=2)).replace(hour=22, minute=30, second=0, microsecond=0)
    task = start_invoice(invoice, dueDate=due.isoformat())
    client = login(alice)
    assert client.post("/tasks/preferences/", {"timezone": "Asia/Tokyo"}).status_code == 302
    html = client.get(f"/tasks/{task.key}/").content.decode()
    local = due.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert f'{local.day} {local:%b %Y}, 07:30' in html
    assert "Times are shown in Asia/Tokyo" in html
    assert client.post("/tasks/preferences/", {"timezone": "Mars/Olympus"}).status_code == 200
    assert client.post("/tasks/preferences/", {"timezone": "Europe/Paris"},
                       HTTP_X_REQUESTED_WITH="fetch").status_code == 204
