"""Searches and gets of every read family: shapes the Camunda client accepts, filters, sort, both page styles."""

from __future__ import annotations

import base64
import json
import re

import pytest

from engine.models import ElementInstance, Job, Variable
from engine.runtime.loop import drain
from tests.api.conftest import assert_problem, start
from tests.conftest import bpmn_file, deploy_file

pytestmark = pytest.mark.django_db

CURSOR = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=)?$")
PAGE_FIELDS = {"totalItems", "hasMoreTotalItems", "startCursor", "endCursor"}


def search(api, path: str, body=None):  # type: ignore[no-untyped-def]
    resp = api.post(f"/v2/{path}/search", body, format="json")
    assert resp.status_code == 200, resp.content
    data = resp.json()
    assert PAGE_FIELDS <= set(data["page"])
    for cursor in (data["page"]["startCursor"], data["page"]["endCursor"]):
        assert cursor is None or CURSOR.match(cursor)
    return data


def test_process_definitions_search_get_and_xml(api, hello):
    deploy_file(api, "v2.bpmn", bpmn_file("hello-service-task.bpmn").replace(b'name="Order"', b'name="Order v2"'))
    data = search(api, "process-definitions")
    assert [d["version"] for d in data["items"]] == [1, 2]
    assert set(data["items"][0]) >= {"name", "resourceName", "version", "versionTag", "processDefinitionId",
                                      "tenantId", "processDefinitionKey", "hasStartForm", "state"}
    latest = search(api, "process-definitions", {"filter": {"isLatestVersion": True}})["items"]
    assert [d["name"] for d in latest] == ["Order v2"]
    by_name = search(api, "process-definitions", {"filter": {"name": {"$like": "Order*2"}}})["items"]
    assert len(by_name) == 1
    key = latest[0]["processDefinitionKey"]
    assert api.get(f"/v2/process-definitions/{key}").json()["version"] == 2
    xml = api.get(f"/v2/process-definitions/{key}/xml")
    assert xml.status_code == 200 and b"Order v2" in xml.content
    assert_problem(api.get("/v2/process-definitions/123/xml"), 404)


def test_process_instance_search_filters_sort_and_both_page_styles(api, hello):
    keys = [hello] + [start(api, variables={"orderId": f"B-{i}"}, businessId=f"bk-{i}") for i in range(4)]
    drain()
    everything = search(api, "process-instances")
    assert everything["page"]["totalItems"] == 5 and not everything["page"]["hasMoreTotalItems"]
    item = everything["items"][0]
    assert item["state"] == "ACTIVE" and item["processDefinitionName"] == "Order" and item["suspendedDate"] is None

    desc = search(api, "process-instances", {"sort": [{"field": "processInstanceKey", "order": "DESC"}]})
    assert [i["processInstanceKey"] for i in desc["items"]] == sorted(keys, key=int, reverse=True)

    # cursor pages: after endCursor, then before startCursor of the second page
    first = search(api, "process-instances", {"page": {"limit": 2}})
    second = search(api, "process-instances", {"page": {"limit": 2, "after": first["page"]["endCursor"]}})
    third = search(api, "process-instances", {"page": {"limit": 2, "after": second["page"]["endCursor"]}})
    seen = [i["processInstanceKey"] for p in (first, second, third) for i in p["items"]]
    assert seen == sorted(keys, key=int)
    back = search(api, "process-instances", {"page": {"limit": 2, "before": second["page"]["startCursor"]}})
    assert back["items"] == first["items"]
    # offset pages
    offset = search(api, "process-instances", {"page": {"from": 2, "limit": 2}})
    assert offset["items"] == second["items"]
    # legacy searchAfter with the sort values of the last row
    legacy = search(api, "process-instances", {"page": {"limit": 2, "searchAfter": first["page"]["lastSortValues"]}})
    assert legacy["items"] == second["items"]

    assert search(api, "process-instances", {"filter": {"businessId": "bk-2"}})["items"][0]["businessId"] == "bk-2"
    found = search(api, "process-instances", {"filter": {"variables": [{"name": "orderId", "value": '"B-3"'}]}})
    assert [i["processInstanceKey"] for i in found["items"]] == [keys[4]]
    found = search(api, "process-instances", {"filter": {"processInstanceKey": {"$in": keys[:2]}, "state": "ACTIVE"}})
    assert found["page"]["totalItems"] == 2
    found = search(api, "process-instances", {"filter": {"startDate": {"$gte": "2000-01-01T00:00:00+00:00"},
                                                         "$or": [{"businessId": "bk-0"}, {"businessId": "bk-1"}]}})
    assert found["page"]["totalItems"] == 2
    assert search(api, "process-instances", {"filter": {"state": "COMPLETED"}})["items"] == []
    assert search(api, "process-instances", {"filter": {"elementId": "Task_Pay"}})["page"]["totalItems"] == 5
    assert search(api, "process-instances", {"filter": {"hasIncident": True}})["items"] == []
    assert search(api, "process-instances", {"filter": {"businessId": {"$exists": False}}})["page"]["totalItems"] == 1


def test_sort_with_nulls_pages_through_everything_once(api, hello):
    keys = [hello] + [start(api) for _ in range(3)]
    drain()
    api.post(f"/v2/process-instances/{keys[1]}/cancellation", format="json")
    drain()
    sort = [{"field": "endDate", "order": "ASC"}]
    seen, cursor = [], None
    while True:
        page = {"limit": 1, **({"after": cursor} if cursor else {})}
        data = search(api, "process-instances", {"sort": sort, "page": page})
        if not data["items"]:
            break
        seen += [i["processInstanceKey"] for i in data["items"]]
        cursor = data["page"]["endCursor"]
    assert seen[0] == keys[1] and sorted(seen, key=int) == sorted(keys, key=int) and len(seen) == 4


def test_element_instances_and_variables(api, hello):
    data = search(api, "element-instances", {"filter": {"processInstanceKey": hello}})
    by_id = {i["elementId"]: i for i in data["items"]}
    assert by_id["Task_Pay"]["type"] == "SERVICE_TASK" and by_id["Task_Pay"]["elementName"] == "Charge payment"
    assert by_id["order-process"]["type"] == "PROCESS" and by_id["StartEvent_Order"]["state"] == "COMPLETED"
    task = by_id["Task_Pay"]
    assert api.get(f"/v2/element-instances/{task['elementInstanceKey']}").json() == task
    only = search(api, "element-instances", {"filter": {"type": "SERVICE_TASK", "state": {"$in": ["ACTIVE"]}}})
    assert [i["elementId"] for i in only["items"]] == ["Task_Pay"]

    variables = search(api, "variables", {"filter": {"processInstanceKey": hello},
                                          "sort": [{"field": "name", "order": "ASC"}]})
    assert [(v["name"], v["value"], v["isTruncated"]) for v in variables["items"]] == [
        ("amount", "42", False), ("orderId", '"A-1"', False)]
    one = variables["items"][1]
    assert api.get(f"/v2/variables/{one['variableKey']}").json()["value"] == '"A-1"'
    assert search(api, "variables", {"filter": {"value": '"A-1"'}})["page"]["totalItems"] == 1
    assert search(api, "variables", {"filter": {"value": {"$like": '"A-*"'}}})["page"]["totalItems"] == 1
    assert search(api, "variables", {"filter": {"name": {"$in": ["amount", "x"]}}})["page"]["totalItems"] == 1


def test_long_variable_values_are_truncated_in_search_unless_asked(api, hello):
    Variable.objects.filter(name="orderId").update(value="x" * 10_000)
    item = search(api, "variables", {"filter": {"name": "orderId"}})["items"][0]
    assert item["isTruncated"] and len(item["value"]) == 8191
    full = api.post("/v2/variables/search?truncateValues=false", {"filter": {"name": "orderId"}}, format="json")
    assert not full.json()["items"][0]["isTruncated"]
    assert json.loads(api.get(f"/v2/variables/{item['variableKey']}").json()["value"]) == "x" * 10_000


def test_jobs_search(api, hello):
    job = Job.objects.get()
    data = search(api, "jobs", {"filter": {"type": "payment", "state": "CREATED"}})
    item = data["items"][0]
    assert item["jobKey"] == str(job.key) and item["kind"] == "BPMN_ELEMENT" and item["customHeaders"] == {
        "currency": "EUR"}
    assert search(api, "jobs", {"filter": {"state": "COMPLETED"}})["items"] == []
    assert search(api, "jobs", {"filter": {"kind": "TASK_LISTENER"}})["items"] == []


def test_incidents_search_and_get(api, hello):
    from django.utils import timezone

    from engine.models import Incident

    ei = ElementInstance.objects.get(element_id="Task_Pay")
    inc = Incident.objects.create(
        key=42, tenant_id=ei.tenant_id, process_instance_key=int(hello), process_definition_key=1,
        bpmn_process_id="order-process", element_instance_key=ei.key, element_id="Task_Pay",
        error_type="JOB_NO_RETRIES", error_message="boom", created_at=timezone.now())
    data = search(api, "incidents", {"filter": {"state": "ACTIVE", "errorType": "JOB_NO_RETRIES"}})
    assert data["items"][0]["incidentKey"] == "42" and data["items"][0]["rootProcessInstanceKey"] == hello
    assert api.get("/v2/incidents/42").json()["errorMessage"] == "boom"
    assert search(api, "incidents", {"filter": {"state": "RESOLVED"}})["items"] == []
    assert inc.key == 42


@pytest.mark.parametrize(
    "path,body",
    [
        ("process-instances", {"filter": {"nope": 1}}),
        ("process-instances", {"filter": {"state": "RUNNING"}}),
        ("process-instances", {"filter": {"startDate": {"$like": "x"}}}),
        ("process-instances", {"filter": {"startDate": "yesterday"}}),
        ("process-instances", {"filter": {"processInstanceKey": "abc"}}),
        ("process-instances", {"sort": [{"field": "nope"}]}),
        ("process-instances", {"sort": {"field": "state"}}),
        ("process-instances", {"page": {"limit": -1}}),
        ("process-instances", {"page": {"limit": 10001}}),
        ("process-instances", {"page": {"after": "!!!"}}),
        ("process-instances", {"page": {"after": base64.b64encode(b"[1, 2]").decode()}}),
        ("process-instances", {"page": {"from": 1, "after": "WzFd"}}),
        ("process-instances", {"unknown": 1}),
        ("process-instances", [1, 2]),
        ("variables", {"filter": {"value": "not json"}}),
        ("variables", {"filter": {"isTruncated": True}}),
        ("user-tasks", {"filter": {"candidateGroup": {"$like": "x*"}}}),
        ("jobs", {"filter": {"retries": "3"}}),
        ("incidents", {"filter": {"errorType": "BOOM"}}),
        ("element-instances", {"filter": {"$or": [{"$or": []}]}}),
    ],
)
def test_bad_search_requests_are_400_problems(api, path, body):
    body = assert_problem(api.post(f"/v2/{path}/search", body, format="json"), 400)
    assert body["title"] == "INVALID_ARGUMENT"


def test_empty_search_body(api, hello):
    resp = api.generic("POST", "/v2/process-instances/search", "", content_type="application/json")
    assert resp.status_code == 200 and resp.json()["page"]["totalItems"] == 1


def test_topology_status_license(api, client):
    topo = api.get("/v2/topology").json()
    assert topo["brokers"][0]["partitions"][0]["state"] == "active" and "brokerId" in topo["brokers"][0]
    assert client.get("/v2/status").status_code == 204
    assert api.get("/v2/license").json()["validLicense"] is True
