"""Starting a flow run from the Inspector in a real browser (Debian's Chromium, live server): the form is
built from the flow's `inputs` schema, bad input comes back as errors on the fields, good input starts
the run and opens it. An unknown flow is a 404; a deactivated one offers no form."""

from __future__ import annotations

import json

from django.utils import timezone

from engine.actions.flows import set_flow_active
from engine.definitions.deploy import Resource, deploy
from engine.models import ProcessInstance, Variable
from flowsync.models import Membership
from tests.inspector.conftest import PASSWORD, make_user

FLOW = {
    "id": "refund",
    "name": "Refund",
    "inputs": {"type": "object", "required": ["order", "amount"], "properties": {
        "order": {"type": "string", "title": "Order", "pattern": "^ORD-[0-9]+$"},
        "amount": {"type": "integer", "title": "Amount", "minimum": 1, "maximum": 500},
        "express": {"type": "boolean", "title": "Express"},
        "reason": {"type": "string", "title": "Reason", "enum": ["damaged", "late", "other"]},
    }},
    "nodes": [{"id": "note", "kind": "transform", "set": {"noted": "order"}}],
}


def _login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next=/inspector/definitions/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/inspector/definitions/")


def test_operator_starts_a_flow_run_from_a_form_built_from_its_inputs(live_server, transactional_db, creds, settings,
                                                                      page, screenshot):
    settings.ENGINE_INLINE = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    deploy(creds.tenant, [Resource("refund.flow.json", json.dumps(FLOW).encode())], timezone.now())
    make_user("olga", {creds.tenant: Membership.Role.OPERATOR})
    _login(page, live_server, "olga")
    page.click("text=Start a run")
    page.wait_for_url("**/inspector/flows/refund/start/")
    assert page.locator("select[name=reason]").count() == 1
    assert page.locator("input[name=express][type=checkbox]").count() == 1
    page.fill("input[name=order]", "not-an-order")
    page.fill("input[name=amount]", "9000")
    page.click("#flow-start button[type=submit]")
    page.wait_for_load_state()
    screenshot(page, "inspector-flow-start-errors")
    body = page.content()
    assert "9000" in page.input_value("input[name=amount]")  # what was typed stays
    assert "Must be at most 500" in body and "required format" in body
    assert not ProcessInstance.objects.exists()
    page.fill("input[name=order]", "ORD-12")
    page.fill("input[name=amount]", "40")
    page.check("input[name=express]")
    page.select_option("select[name=reason]", "late")
    page.click("#flow-start button[type=submit]")
    page.wait_for_url("**/inspector/instances/*/")
    instance = ProcessInstance.objects.get()
    assert page.url.endswith(f"/inspector/instances/{instance.key}/")
    variables = dict(Variable.objects.filter(process_instance_id=instance.key, scope_key=instance.key)
                     .values_list("name", "value"))
    assert variables["order"] == "ORD-12" and variables["amount"] == 40 and variables["express"] is True
    assert variables["reason"] == "late"


def test_an_unknown_or_deactivated_flow_starts_nothing(live_server, transactional_db, creds, settings, page):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    deploy(creds.tenant, [Resource("refund.flow.json", json.dumps(FLOW).encode())], timezone.now())
    make_user("vera", {creds.tenant: Membership.Role.OPERATOR})
    _login(page, live_server, "vera")
    assert page.goto(f"{live_server.url}/inspector/flows/ghost/start/").status == 404
    set_flow_active([creds.tenant.pk], "refund", False, "test", timezone.now())
    page.goto(f"{live_server.url}/inspector/definitions/")
    assert page.locator("text=Start a run").count() == 0
    page.goto(f"{live_server.url}/inspector/flows/refund/start/")
    assert "deactivated" in page.content() and page.locator("#flow-start").count() == 0
