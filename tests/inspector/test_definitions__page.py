"""The definitions page: each process with its versions and running / incident / completed / terminated
counts per version, linking to the instances of one version; and the active-element filter."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.actions.instances import cancel_instance
from engine.models import DefinitionCounts
from engine.runtime.loop import drain
from engine.runtime.worker import sweep_once
from engine.store import definition_counts

pytestmark = pytest.mark.django_db


def test_versions_with_their_counts(op_client, flow, other_flow):
    v1_running = flow.start("A")
    v1_incident = flow.start("B")
    flow.fail_to_incident(v1_incident)
    flow.deploy("inspect-order.bpmn")  # the same file again: no new version
    cancelled = flow.start("C")
    cancel_instance(flow.tenant, cancelled, "op", flow.now())
    drain()
    other_flow.start("X")  # another tenant's instance is not counted
    # Finished instances are counted periodically (the engine workers' sweep): before, the page says so.
    before = op_client.get("/inspector/definitions/")
    [(_, _, [v])] = before.context["processes"]
    assert (v.running, v.with_incident, v.completed, v.terminated, v.counted_at) == (2, 1, 0, 0, None)
    assert "not counted yet" in before.content.decode()
    assert definition_counts.refresh(flow.now())
    assert not definition_counts.refresh(flow.now())  # fresh: the next sweeps skip it
    response = op_client.get("/inspector/definitions/")
    assert response.status_code == 200
    [(pid, name, versions)] = response.context["processes"]
    assert (pid, name) == ("inspect-order", "Inspect order")
    [v] = versions
    assert (v.running, v.with_incident, v.completed, v.terminated) == (2, 1, 0, 1)
    html = response.content.decode()
    assert "not counted yet" not in html and "completed and terminated as counted at" in html
    # Running and incident counts are live: a new instance shows at once, a finished one at the next count.
    cancel_instance(flow.tenant, v1_running, "op", flow.now())
    drain()
    [(_, _, [v])] = op_client.get("/inspector/definitions/").context["processes"]
    assert (v.running, v.terminated) == (1, 1)
    assert definition_counts.refresh(flow.now() + dt.timedelta(seconds=definition_counts.REFRESH_SECONDS + 1))
    [(_, _, [v])] = op_client.get("/inspector/definitions/").context["processes"]
    assert (v.running, v.terminated) == (1, 2)
    version_page = op_client.get(f"/inspector/definitions/{v.definition.key}/")
    assert [(s, n) for s, n, _x, _w in version_page.context["bars"][0].segments] == [
        ("incident", 1), ("terminated", 2)]
    assert "completed and terminated as counted at" in version_page.content.decode()
    assert "?process=inspect-order&amp;version=1&amp;state=ACTIVE&amp;incident=yes" in html
    assert v1_running  # started above


def test_filter_by_active_element(op_client, flow):
    at_charge = flow.start("A")
    at_ship = flow.start("B")
    flow.complete_charge(at_ship)
    keys = {i.key for i in op_client.get("/inspector/", {"active_element": "Ship"}).context["page"].items}
    assert keys == {at_ship}
    keys = {i.key for i in op_client.get("/inspector/", {"active_element": "Charge"}).context["page"].items}
    assert keys == {at_charge}


def test_the_engine_workers_sweep_counts_finished_instances(flow):
    key = flow.start("S")
    cancel_instance(flow.tenant, key, "op", flow.now())
    drain()
    assert not DefinitionCounts.objects.exists()
    sweep_once()
    [counted] = DefinitionCounts.objects.all()
    assert (counted.completed, counted.terminated) == (0, 1)
    sweep_once()  # fresh: counted again only after REFRESH_SECONDS
    assert DefinitionCounts.objects.get().counted_at == counted.counted_at
