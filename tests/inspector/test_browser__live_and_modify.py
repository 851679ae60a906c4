"""The instance page in a real browser: it refreshes by itself (an incident raised from outside appears on the
open page and its diagram without a reload, typed input survives), then the operator moves the stuck token past
the failing task with the Modify form. Every browser test fails on a CSP violation (tests/conftest.py)."""

from __future__ import annotations

from engine.models import ElementInstance
from flowsync.models import Membership
from tests.inspector.conftest import PASSWORD, Flow, make_user


def test_live_incident_then_move_the_token(live_server, transactional_db, creds, settings, page, screenshot):
    settings.ENGINE_INLINE = True  # what the pages submit is applied before the response
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    flow = Flow(creds.tenant)
    flow.deploy()
    key = flow.start("ORD-LIVE", tier="gold")
    make_user("olga", {creds.tenant: Membership.Role.OPERATOR})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/accounts/login/?next=/inspector/instances/{key}/")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/inspector/instances/{key}/")
    page.wait_for_selector("#diagram[data-ready=true] svg")
    page.wait_for_selector(".djs-element.fs-active[data-element-id=Charge]")
    assert page.locator("#incidents tr[data-incident]").count() == 0
    first_stamp = page.locator("#live-stamp time").get_attribute("datetime")
    # The operator is typing when the refresh comes: the input is outside the refreshed regions.
    page.fill("#new-var-name", "half-typed")
    page.evaluate("window.__sameDocument = true")

    incident = flow.fail_to_incident(key)  # from outside the page (a worker gives up)

    page.wait_for_selector(f"#incidents tr[data-incident='{incident.key}']", timeout=15_000)
    page.wait_for_selector(".djs-element.fs-incident[data-element-id=Charge]")
    assert page.locator(".diagram-badge--incident").count() == 1
    assert page.locator("#live-status .badge--overdue").inner_text() == "1 incident"
    assert page.evaluate("window.__sameDocument") is True  # no reload
    assert page.input_value("#new-var-name") == "half-typed"
    assert page.locator("#live-stamp time").get_attribute("datetime") != first_stamp
    assert page.locator("#timeline tr[data-intent=INCIDENT_CREATED]").count() == 1
    screenshot(page, "inspector-live-01-incident-appeared")

    charge = ElementInstance.objects.get(process_instance_id=key, element_id="Charge", state="ACTIVE")
    page.select_option("#id_operation", "move")
    page.select_option("#id_source", str(charge.key))
    page.select_option("#id_target", "Ship")
    page.fill("#id_variables", '{"skipped": "card gateway down"}')
    page.click("#modify button[type=submit]")
    page.wait_for_selector("text=The modification was sent to the engine")
    page.wait_for_selector("#diagram[data-ready=true] svg")
    page.wait_for_selector(".djs-element.fs-active[data-element-id=Ship]")
    assert page.locator(".djs-element.fs-active[data-element-id=Charge]").count() == 0
    # The incident went with its element: the terminated task's incident is no longer active.
    assert page.locator(".djs-element.fs-incident").count() == 0
    # Names on the tables, ids on hover.
    assert page.locator("#elements span[title=Ship]").first.inner_text() == "Ship order"
    screenshot(page, "inspector-live-02-token-moved")
    assert errors == []
    assert ElementInstance.objects.get(key=charge.key).state == "TERMINATED"


def test_lists_refresh_by_themselves_and_keep_ticked_boxes(live_server, transactional_db, creds, settings, page):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    flow = Flow(creds.tenant)
    flow.deploy()
    first = flow.start("ORD-1")
    first_incident = flow.fail_to_incident(first)
    make_user("olga", {creds.tenant: Membership.Role.OPERATOR})
    page.goto(f"{live_server.url}/accounts/login/?next=/inspector/")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/inspector/")
    page.fill("#f-bk", "ORD")  # typed, not applied: the refresh must not lose it
    page.evaluate("window.__sameDocument = true")
    second = flow.start("ORD-2")
    page.wait_for_selector(f"[data-instance-link]:text('{second}')")
    assert page.input_value("#f-bk") == "ORD"
    assert page.evaluate("window.__sameDocument") is True

    page.goto(f"{live_server.url}/inspector/incidents/")
    page.check(f"#sel-{first_incident.key}")
    page.evaluate("window.__sameDocument = true")
    second_incident = flow.fail_to_incident(second)
    page.wait_for_selector(f"tr[data-incident='{second_incident.key}']")
    assert page.is_checked(f"#sel-{first_incident.key}")
    assert not page.is_checked(f"#sel-{second_incident.key}")
    assert page.evaluate("window.__sameDocument") is True
