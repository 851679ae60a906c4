"""A definition version's page: stacked bars of its instances per state, its diagram with the active tokens
and incidents of all its instances per element (the heatmap), and its source to download."""

from __future__ import annotations

import pytest

from engine.actions.instances import cancel_instance
from engine.runtime.loop import drain
from engine.store import definition_counts
from tests.inspector.conftest import Flow

pytestmark = pytest.mark.django_db


def test_bars_and_heatmap_count_per_version_and_element(op_client, flow: Flow, other_flow: Flow):
    a, b, c, d = (flow.start(f"H-{n}") for n in range(4))
    flow.fail_to_incident(a)
    flow.complete_charge(b)  # waits at Ship
    cancel_instance(flow.tenant, d, "op", flow.now())
    drain()
    other_flow.start("THEIRS")
    definition_counts.refresh(flow.now(), force=True)  # the engine workers' periodic count of finished ones
    definition = flow.tenant.processdefinition_set.get(version=1)
    page = op_client.get(f"/inspector/definitions/{definition.key}/")
    assert page.status_code == 200
    [bar] = page.context["bars"]
    assert [(state, n) for state, n, _x, _w in bar.segments] == [("running", 2), ("incident", 1), ("terminated", 1)]
    assert sum(w for *_rest, w in bar.segments) == pytest.approx(100)
    assert 'data-segment="incident"' in page.content.decode()
    heat = op_client.get(f"/inspector/definitions/{definition.key}/diagram.json").json()
    assert heat["xml"].startswith("<?xml")
    assert heat["elements"] == {"Charge": {"active": 2, "incidents": 1, "completed": 0},
                                "Ship": {"active": 1, "incidents": 0, "completed": 0}}
    assert c  # c waits at Charge too
    source = op_client.get(f"/inspector/definitions/{definition.key}/source/")
    assert source.status_code == 200 and b"inspect-order" in source.content
    assert source["Content-Disposition"] == 'attachment; filename="inspect-order.bpmn"'
    listing = op_client.get("/inspector/definitions/")
    assert listing.context["charts"]["inspect-order"][0].version.running == 3


def test_another_tenants_definition_is_404(op_client, flow: Flow, other_flow: Flow):
    theirs = other_flow.tenant.processdefinition_set.get()
    for suffix in ("", "diagram.json", "source/"):
        assert op_client.get(f"/inspector/definitions/{theirs.key}/{suffix}").status_code == 404
