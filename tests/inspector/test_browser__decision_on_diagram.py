"""A business rule task that evaluated a decision is marked on the instance diagram (a DMN badge, the
decision and its result on hover, a link to the Decisions table), in a real browser under the CSP."""

from __future__ import annotations

from engine.actions.instances import start_instance
from engine.runtime.loop import drain
from flowsync.models import Membership
from tests.inspector.conftest import Flow, make_user
from tests.inspector.test_browser__find_and_understand import sign_in
from tests.inspector.test_decisions__pages import deploy_pair


def test_the_decision_is_marked_on_the_diagram(live_server, transactional_db, creds, settings, page):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    flow = Flow(creds.tenant)
    definition = deploy_pair(creds.tenant, flow.now())
    instance = start_instance(creds.tenant, definition, {"age": 22, "vehicleManufacturer": "Porsche",
                                                          "vehicleModel": "p911"}, "test", flow.now())
    drain()
    make_user("olga", {creds.tenant: Membership.Role.OPERATOR})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server.url, f"/inspector/instances/{instance.key}/")
    mark = page.locator("[data-decision-badge=Task_RiskGroup] .diagram-badge")
    mark.wait_for()
    assert mark.inner_text().startswith("DMN") and "Not an option" in (mark.get_attribute("title") or "")
    page.click("[data-decision-badge=Task_RiskGroup]")
    page.wait_for_url("**#decisions")
    assert not errors
