"""A form shows the data it is about, in the author's field order.

The demo expense claim's reviewer form (engine/demo/expense-review.schema.json) shows the
expense read-only above the decision; JSON Schema forms list fields in the schema's property
order in the Tasklist and in `/v2/user-tasks/{key}/form`, also on PostgreSQL, whose jsonb
sorts object keys.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from engine.actions.task_claims import claim_task
from engine.definitions.deploy import Resource, deploy
from engine.models import Form, Variable
from engine.runtime.loop import drain
from flowsync.models import ApiKey
from tests.tasklist.conftest import login, make_user

pytestmark = pytest.mark.django_db
DEMO = Path(__file__).resolve().parents[2] / "engine" / "demo"
SCHEMA = DEMO / "expense-review.schema.json"


@pytest.fixture
def review(flow, acme):  # type: ignore[no-untyped-def]
    names = ["expense-claim.bpmn", "expense-claim-form.form", "expense-review.schema.json"]
    deploy(acme, [Resource(n, (DEMO / n).read_bytes()) for n in names], flow.now())
    erin = make_user("erin", [acme], ("staff",))
    dave = make_user("dave", [acme], ("managers",))
    key = flow.start("expense-claim", requester="erin", reviewer="dave")
    submitted = login(erin).post(f"/tasks/{flow.open_task(key).key}/complete/", {
        "expense.description": "Train to Lyon", "expense.amount": "89.90", "expense.date": "2030-02-03",
        "expense.kind": "travel"})
    assert submitted.status_code == 302
    drain()
    task = flow.open_task(key)
    assert task.name == "Review the expense"
    claim_task([acme.pk], task.key, "dave", "dave", flow.now())
    return flow, key, task, dave


def schema_order(schema: dict) -> list[str]:
    """Input names of a JSON Schema form in the author's order (nested objects flattened)."""
    names: list[str] = []

    def walk(node: dict, prefix: str) -> None:
        for name, sub in node.get("properties", {}).items():
            if sub.get("type") == "object" and "properties" in sub:
                walk(sub, f"{prefix}{name}.")
            else:
                names.append(f"{prefix}{name}")

    walk(schema, "")
    return names


def test_reviewer_sees_the_expense_read_only_in_the_schemas_order(review):
    flow, key, task, dave = review
    html = login(dave).get(f"/tasks/{task.key}/").content.decode()
    assert "None set yet" not in html
    # The expense, as read-only fields with the values the requester entered.
    assert re.search(r'name="expense\.description" value="Train to Lyon"[^>]* readonly', html)
    assert re.search(r'name="expense\.amount" value="89\.9"[^>]* readonly', html)
    assert re.search(r'name="requester" value="erin"[^>]* readonly', html)
    # Fields in the schema's order, not alphabetical.
    expected = schema_order(json.loads(SCHEMA.read_text()))
    assert expected[:2] == ["expense.description", "expense.amount"]
    shown = [n for n in re.findall(r'name="([\w.]+)"', html) if n in expected]
    assert list(dict.fromkeys(shown)) == expected


def test_read_only_fields_are_not_taken_from_the_submission(review):
    flow, key, task, dave = review
    done = login(dave).post(f"/tasks/{task.key}/complete/", {
        "decision": "approve", "expense.amount": "1", "requester": "mallory"})
    assert done.status_code == 302
    drain()
    values = dict(Variable.objects.filter(process_instance_id=key).values_list("name", "value"))
    assert values["decision"] == "approve"
    assert values["expense"]["amount"] == 89.9 and values["requester"] == "erin"


def test_api_form_schema_keeps_the_authors_property_order(review, acme):
    flow, key, task, dave = review
    api_key, secret = ApiKey.issue(acme, "order-check")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{api_key.client_id}:{secret}".encode()).decode())
    body = api.get(f"/v2/user-tasks/{task.key}/form").json()
    assert list(json.loads(body["schema"])["properties"]) == list(json.loads(SCHEMA.read_text())["properties"])
    # What the database gives back for the document itself is not relied on (jsonb sorts keys).
    form = Form.objects.get(form_id="expense-review")
    assert form.text == SCHEMA.read_text()
