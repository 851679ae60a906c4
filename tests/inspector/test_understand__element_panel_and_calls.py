"""Understanding one instance: an element's panel (tokens, the variables each token sees by the one
visibility rule, its job, incident and timeline), the call hierarchy breadcrumb and the list of children."""

from __future__ import annotations

import pytest

from engine.models import ProcessInstance
from tests.inspector.conftest import Flow

pytestmark = pytest.mark.django_db


def test_element_panel_shows_tokens_variables_in_scope_job_incident_and_timeline(op_client, flow: Flow):
    key = flow.start("ORD-P", tier="gold", amount=100)
    incident = flow.fail_to_incident(key)
    page = op_client.get(f"/inspector/instances/{key}/", {"element": "Charge"})
    assert page.status_code == 200
    panel = page.context["panel"]
    assert (panel.element_id, panel.name, panel.active_tokens) == ("Charge", "Charge card", 1)
    [token] = panel.tokens
    assert token.visible == {"tier": "gold", "amount": 100}
    assert token.scope_path == ["inspect-order", "Charge"]
    assert [i.key for i in panel.incidents] == [incident.key]
    assert [j.state for j in panel.jobs] == ["FAILED"]
    intents = [t.record["intent"] for t in panel.timeline]
    assert "ELEMENT_ACTIVATED" in intents and "INCIDENT_CREATED" in intents
    assert all(t.record.get("elementId") == "Charge" for t in panel.timeline)
    html = page.content.decode()
    assert 'data-element-panel="Charge"' in html and 'data-variable="tier"' in html
    # What the diagram's click loads: the panel alone.
    fragment = op_client.get(f"/inspector/instances/{key}/elements/Charge/", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert fragment.content.decode().lstrip().startswith('<section class="inspector-section element-panel"')
    # Without the header (a bookmarked link) the whole page opens at the panel.
    plain = op_client.get(f"/inspector/instances/{key}/elements/Charge/")
    assert plain.status_code == 302 and plain["Location"].endswith("?element=Charge#element-panel")


def test_a_local_variable_shadows_the_process_one_in_the_panel(op_client, flow: Flow):
    from engine.models import ElementInstance, Variable

    key = flow.start("ORD-S", tier="gold")
    charge = ElementInstance.objects.get(process_instance_id=key, element_id="Charge")
    # An input mapping's local copy (what ioMapping writes): the element sees it, not the process value.
    Variable.objects.create(key=charge.key + 10**12, tenant=flow.tenant, process_instance_id=key,
                            scope_key=charge.key, name="tier", value="silver")
    panel = op_client.get(f"/inspector/instances/{key}/", {"element": "Charge"}).context["panel"]
    assert panel.tokens[0].visible["tier"] == "silver"
    ship = op_client.get(f"/inspector/instances/{key}/", {"element": "Ship"}).context["panel"]
    assert ship.tokens == []  # not reached yet


def test_unknown_element_and_other_tenants_are_404(op_client, flow: Flow, other_flow: Flow):
    key = flow.start("ORD-U")
    assert op_client.get(f"/inspector/instances/{key}/", {"element": "Nope"}).status_code == 404
    assert op_client.get(f"/inspector/instances/{key}/elements/Nope/", HTTP_HX_REQUEST="true").status_code == 404
    theirs = other_flow.start("THEIRS")
    assert op_client.get(f"/inspector/instances/{theirs}/elements/Charge/",
                         HTTP_HX_REQUEST="true").status_code == 404


def test_breadcrumb_goes_up_a_three_level_call_tree_and_children_go_down(op_client, flow: Flow):
    flow.deploy("inspect-parent.bpmn")
    flow.deploy("inspect-grand.bpmn")
    grand = flow.start("G-1", process_id="inspect-grand")
    parent = ProcessInstance.objects.get(parent_instance_key=grand).key
    child = ProcessInstance.objects.get(parent_instance_key=parent).key
    response = op_client.get(f"/inspector/instances/{child}/")
    assert [a.key for a in response.context["ancestors"]] == [grand, parent]
    html = response.content.decode()
    assert html.index(f'data-ancestor="{grand}"') < html.index(f'data-ancestor="{parent}"')
    middle = op_client.get(f"/inspector/instances/{parent}/").content.decode()
    assert f'data-ancestor="{grand}"' in middle and f'data-child="{child}"' in middle
    top = op_client.get(f"/inspector/instances/{grand}/")
    assert top.context["ancestors"] == []
