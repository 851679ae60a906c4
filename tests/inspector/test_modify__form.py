"""The instance page's Modify form: move / activate / terminate through the modification action; refusals and
bad input are form errors (400) with nothing changed; members are kept out; ended instances offer no form."""

from __future__ import annotations

from collections import Counter

import pytest
from django.test import Client

from engine.models import Command, ElementInstance, Variable
from engine.runtime.loop import drain
from flowsync.models import Membership
from tests.inspector.conftest import make_user

pytestmark = pytest.mark.django_db


def active(key: int) -> Counter[str]:
    return Counter(ElementInstance.objects.filter(process_instance_id=key, state="ACTIVE")
                   .values_list("element_id", flat=True))


def charge_key(key: int) -> int:
    return ElementInstance.objects.get(process_instance_id=key, element_id="Charge", state="ACTIVE").key


def test_the_form_offers_active_tokens_and_targets_by_name(op_client, flow):
    key = flow.start()
    html = op_client.get(f"/inspector/instances/{key}/").content.decode()
    assert 'id="modify"' in html
    assert f'<option value="{charge_key(key)}">Charge card (Charge) · {charge_key(key)}</option>' in html
    assert '<option value="Ship">Ship order (Ship)</option>' in html


def test_move_a_token_past_the_failing_task(op_client, flow, operator):
    key = flow.start()
    flow.fail_to_incident(key)
    response = op_client.post(f"/inspector/instances/{key}/modify/",
                              {"operation": "move", "source": charge_key(key), "target": "Ship",
                               "variables": '{"skipped": true}'})
    assert response.status_code == 302 and response["Location"].endswith("#modify")
    drain()
    assert active(key) == Counter(["inspect-order", "Ship"])
    ship = ElementInstance.objects.get(process_instance_id=key, element_id="Ship", state="ACTIVE")
    assert Variable.objects.get(scope_key=ship.key, name="skipped").value is True
    command = Command.objects.get(process_instance_key=key, kind="MODIFY_INSTANCE")
    assert command.actor == operator.username and command.state == "PROCESSED"
    page = op_client.get(f"/inspector/instances/{key}/").content.decode()
    assert "The modification was sent to the engine" in page


def test_activate_then_terminate(op_client, flow):
    key = flow.start()
    assert op_client.post(f"/inspector/instances/{key}/modify/",
                          {"operation": "activate", "target": "Ship"}).status_code == 302
    drain()
    assert active(key) == Counter(["inspect-order", "Charge", "Ship"])
    assert op_client.post(f"/inspector/instances/{key}/modify/",
                          {"operation": "terminate", "source": charge_key(key)}).status_code == 302
    drain()
    assert active(key) == Counter(["inspect-order", "Ship"])


@pytest.mark.parametrize(("data", "error"), [
    ({"operation": "move", "target": "Ship"}, "Choose the token"),
    ({"operation": "activate"}, "Choose the element"),
    ({"operation": "activate", "target": "Nope"}, "Select a valid choice"),
    ({"operation": "activate", "target": "Ship", "variables": "[1]"}, "JSON object"),
    ({"operation": "terminate", "source": "123"}, "Select a valid choice"),
    ({"operation": "explode"}, "Select a valid choice"),
])
def test_bad_input_is_a_form_error(op_client, flow, data, error):
    key = flow.start()
    response = op_client.post(f"/inspector/instances/{key}/modify/", data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Command.objects.filter(process_instance_key=key, kind="MODIFY_INSTANCE").exists()


def test_a_refusal_of_the_action_is_shown_on_the_form(op_client, flow):
    key = flow.start()
    source = charge_key(key)  # a valid choice when the page was drawn
    flow.complete_charge(key)  # … but the token moved on meanwhile: Charge is no longer a choice
    response = op_client.post(f"/inspector/instances/{key}/modify/", {"operation": "terminate", "source": source})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_members_and_ended_instances(flow, tenant, op_client):
    key = flow.start()
    member = make_user("max", {tenant: Membership.Role.MEMBER})
    client = Client()
    client.force_login(member)
    assert client.post(f"/inspector/instances/{key}/modify/", {"operation": "activate",
                                                                 "target": "Ship"}).status_code == 403
    op_client.post(f"/inspector/instances/{key}/cancel/", {"confirm": "yes"})
    drain()
    html = op_client.get(f"/inspector/instances/{key}/").content.decode()
    assert 'id="modify"' not in html
    response = op_client.post(f"/inspector/instances/{key}/modify/", {"operation": "activate", "target": "Ship"})
    assert response.status_code == 302
    assert not Command.objects.filter(process_instance_key=key, kind="MODIFY_INSTANCE").exists()
