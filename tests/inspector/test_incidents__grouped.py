"""Incidents grouped by error type and message, by element and by process version, with counts, newest
group first, each linking to exactly the instances it counts."""

from __future__ import annotations

import pytest

from engine.models import Incident
from tests.inspector.conftest import Flow

pytestmark = pytest.mark.django_db


@pytest.fixture
def incidents(flow: Flow) -> dict[str, list[int]]:
    down = [flow.start(f"D-{n}") for n in range(3)]
    for key in down:
        flow.fail_to_incident(key)
    other = flow.start("O-1")
    flow.fail_to_incident(other)
    Incident.objects.filter(process_instance_key=other).update(error_message="card expired")
    healthy = flow.start("H-1")
    return {"down": down, "other": [other], "healthy": [healthy]}


def instance_keys(op_client, query: str) -> set[int]:  # type: ignore[no-untyped-def]
    response = op_client.get(f"/inspector/?{query}")
    assert response.status_code == 200, response.context["form"].errors
    return {i.key for i in response.context["page"].items}


def test_by_type_and_message(op_client, incidents, other_flow: Flow):
    other_flow.fail_to_incident(other_flow.start("THEIRS"))  # another tenant's incident is not counted
    response = op_client.get("/inspector/incidents/", {"group": "type"})
    assert response.status_code == 200
    groups = response.context["groups"]
    assert [(g.label, g.detail, g.count) for g in groups] == [
        ("JOB_NO_RETRIES", "card expired", 1), ("JOB_NO_RETRIES", "card gateway down", 3)]
    assert instance_keys(op_client, groups[1].instances_query) == set(incidents["down"])
    assert instance_keys(op_client, groups[0].instances_query) == set(incidents["other"])
    assert 'data-incident-group="JOB_NO_RETRIES"' in response.content.decode()


def test_by_element_and_by_version(op_client, incidents):
    [by_element] = op_client.get("/inspector/incidents/", {"group": "element"}).context["groups"]
    assert (by_element.label, by_element.count) == ("Charge card", 4)  # the element's name, its id beside
    assert by_element.detail.startswith("Charge · inspect-order v1")
    assert instance_keys(op_client, by_element.instances_query) == set(incidents["down"] + incidents["other"])
    [by_version] = op_client.get("/inspector/incidents/", {"group": "definition"}).context["groups"]
    assert (by_version.label, by_version.detail, by_version.count) == ("Inspect order", "inspect-order v1", 4)
    assert instance_keys(op_client, by_version.instances_query) == set(incidents["down"] + incidents["other"])


def test_resolved_groups_count_but_do_not_link_and_bad_group_is_an_error(op_client, incidents):
    Incident.objects.filter(process_instance_key__in=incidents["down"]).update(state="RESOLVED")
    [resolved] = op_client.get("/inspector/incidents/", {"group": "type", "state": "RESOLVED"}).context["groups"]
    assert resolved.count == 3 and resolved.instances_query == ""
    response = op_client.get("/inspector/incidents/", {"group": "weather"})
    assert response.status_code == 200 and response.context["group"] == "" and response.context["form"].errors
