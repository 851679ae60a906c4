"""User tasks through /v2: search, get, form, assign, unassign, complete."""

from __future__ import annotations

import json

import pytest

from engine.models import ProcessInstance
from engine.runtime.loop import drain
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db


def _task(api):  # type: ignore[no-untyped-def]
    items = api.post("/v2/user-tasks/search", {"filter": {"state": "CREATED"}}, format="json").json()["items"]
    assert len(items) == 1
    return items[0]


def test_search_get_and_form(api, review_task):
    task = _task(api)
    assert task["name"] == "Review order" and task["candidateGroups"] == ["managers", "auditors"]
    assert task["processInstanceKey"] == review_task and task["assignee"] is None
    assert api.get(f"/v2/user-tasks/{task['userTaskKey']}").json() == task
    found = api.post("/v2/user-tasks/search", {"filter": {"candidateGroup": "managers"}}, format="json").json()
    assert found["page"]["totalItems"] == 1
    found = api.post("/v2/user-tasks/search", {"filter": {"candidateGroups": {"$in": ["nobody"]}}},
                     format="json").json()
    assert found["items"] == []
    found = api.post("/v2/user-tasks/search", {"filter": {"processInstanceVariables": [
        {"name": "orderId", "value": '"A-7"'}]}}, format="json").json()
    assert found["page"]["totalItems"] == 1
    form = api.get(f"/v2/user-tasks/{task['userTaskKey']}/form").json()
    assert form["formId"] == "ReviewForm" and json.loads(form["schema"])["id"] == "review"


def test_assign_unassign_complete(api, review_task):
    key = _task(api)["userTaskKey"]
    assert api.post(f"/v2/user-tasks/{key}/assignment", {"assignee": "demo"}, format="json").status_code == 204
    drain()
    assert _task(api)["assignee"] == "demo"
    body = assert_problem(api.post(f"/v2/user-tasks/{key}/assignment", {"assignee": "john", "allowOverride": False},
                                   format="json"), 409)
    assert "demo" in body["detail"]
    assert api.delete(f"/v2/user-tasks/{key}/assignee").status_code == 204
    drain()
    assert _task(api)["assignee"] is None
    resp = api.post(f"/v2/user-tasks/{key}/completion", {"variables": {"approved": True}}, format="json")
    assert resp.status_code == 204
    drain()
    assert ProcessInstance.objects.get(key=int(review_task)).state == "COMPLETED"
    done = api.post("/v2/user-tasks/search", {"filter": {"state": "COMPLETED"}}, format="json").json()["items"]
    assert done[0]["completionDate"] is not None
    assert_problem(api.post(f"/v2/user-tasks/{key}/completion", format="json"), 409)


def test_bad_input_and_unknown_keys(api, review_task):
    key = _task(api)["userTaskKey"]
    assert_problem(api.post(f"/v2/user-tasks/{key}/assignment", {}, format="json"), 400)
    assert_problem(api.post(f"/v2/user-tasks/{key}/assignment", {"assignee": "x", "bogus": 1}, format="json"), 400)
    assert_problem(api.post(f"/v2/user-tasks/{key}/completion", {"variables": [1]}, format="json"), 400)
    assert_problem(api.post("/v2/user-tasks/999/completion", format="json"), 404)
    assert_problem(api.get("/v2/user-tasks/999"), 404)
    assert_problem(api.get("/v2/user-tasks/x1"), 400)
    assert_problem(api.delete("/v2/user-tasks/999/assignee"), 404)


def test_update_dates_candidates_and_priority(api, review_task):
    key = _task(api)["userTaskKey"]
    resp = api.patch(f"/v2/user-tasks/{key}", {"changeset": {
        "dueDate": "2027-05-01T09:00:00+02:00", "candidateUsers": ["carl"], "candidateGroups": [], "priority": 12,
        "followUpDate": None}, "action": "escalate"}, format="json")
    assert resp.status_code == 204, resp.content
    drain()
    task = _task(api)
    assert (task["priority"], task["candidateUsers"], task["candidateGroups"]) == (12, ["carl"], [])
    assert task["dueDate"].startswith("2027-05-01T07:00:00") and task["followUpDate"] is None
    found = api.post("/v2/user-tasks/search", {"filter": {"candidateUser": "carl"}}, format="json").json()
    assert found["page"]["totalItems"] == 1
    assert api.patch(f"/v2/user-tasks/{key}", {"changeset": {"dueDate": ""}}, format="json").status_code == 204
    drain()
    assert _task(api)["dueDate"] is None


def test_update_bad_input(api, review_task):
    key = _task(api)["userTaskKey"]
    body = assert_problem(api.patch(f"/v2/user-tasks/{key}", {"changeset": {"assignee": "x"}}, format="json"), 400)
    assert "changeset.assignee" in body["detail"]
    body = assert_problem(api.patch(f"/v2/user-tasks/{key}", {"changeset": {"priority": 101}}, format="json"), 400)
    assert "changeset.priority" in body["detail"]
    assert_problem(api.patch(f"/v2/user-tasks/{key}", {"changeset": {"dueDate": "soon"}}, format="json"), 400)
    assert_problem(api.patch(f"/v2/user-tasks/{key}", {"changeset": [1]}, format="json"), 400)
    assert_problem(api.patch(f"/v2/user-tasks/{key}", {"bogus": 1}, format="json"), 400)
    assert_problem(api.patch("/v2/user-tasks/999", {"changeset": {"priority": 1}}, format="json"), 404)


def test_deployed_form_linked_by_form_id(api):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.api.conftest import api_bpmn, complete_jobs, start

    form = json.dumps({"id": "review-form", "type": "default",
                       "components": [{"type": "textfield", "key": "comment", "label": "Comment"}]}).encode()
    bpmn = api_bpmn("order-flow.bpmn").replace(b'formKey="camunda-forms:bpmn:ReviewForm"', b'formId="review-form"')
    files = [SimpleUploadedFile("order-flow.bpmn", bpmn), SimpleUploadedFile("review.form", form)]
    resp = api.post("/v2/deployments", {"resources": files}, format="multipart")
    assert resp.status_code == 200, resp.content
    deployed = [d["form"] for d in resp.json()["deployments"] if d["form"]]
    assert deployed == [{"formId": "review-form", "version": 1, "resourceName": "review.form",
                         "tenantId": "<default>", "formKey": deployed[0]["formKey"]}]
    again = api.post("/v2/deployments", {"resources": [SimpleUploadedFile("review.form", form)]}, format="multipart")
    assert [d["form"] for d in again.json()["deployments"]] == deployed
    start(api, "order-flow", variables={"orderId": "F-1"})
    drain()
    complete_jobs(api, "charge")
    task = _task(api)
    got = api.get(f"/v2/user-tasks/{task['userTaskKey']}/form").json()
    assert got["formId"] == "review-form" and got["formKey"] == deployed[0]["formKey"]
    assert json.loads(got["schema"])["components"][0]["key"] == "comment"
