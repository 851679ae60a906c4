"""The Inspector in a real browser: Debian's Chromium (fixtures in tests/conftest.py), headless, on the live server.

An operator logs in, finds the instance with an incident, sees it on the bpmn-js diagram, resolves it.
Screenshots go to artifacts/screenshots/ (ignored by git).
"""

from __future__ import annotations

from engine.models import Incident, Job
from flowsync.models import Membership
from tests.inspector.conftest import PASSWORD, Flow, make_user


def test_operator_resolves_an_incident_seen_on_the_diagram(live_server, transactional_db, creds, settings,
                                                           page, screenshot):
    settings.ENGINE_INLINE = True  # what the pages submit is applied before the response
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    flow = Flow(creds.tenant)
    flow.deploy()
    flow.start("ORD-OK")
    key = flow.start("ORD-BROKEN", tier="gold")
    incident = flow.fail_to_incident(key)
    make_user("olga", {creds.tenant: Membership.Role.OPERATOR})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/accounts/login/?next=/inspector/")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/inspector/")
    page.select_option("#f-incident", "yes")
    page.click("text=Apply")
    page.wait_for_url("**incident=yes**")
    links = page.locator("[data-instance-link]")
    assert links.count() == 1
    screenshot(page, "inspector-01-instances-with-incident")
    links.first.click()
    page.wait_for_url(f"**/inspector/instances/{key}/")

    page.wait_for_selector("#diagram[data-ready=true] svg")
    page.wait_for_selector(".djs-element.fs-incident[data-element-id=Charge]")
    assert page.locator(".diagram-badge--incident").count() == 1
    assert page.locator(".djs-element.fs-completed[data-element-id=Start]").count() == 1
    assert page.locator(f"tr[data-incident='{incident.key}']").is_visible()
    screenshot(page, "inspector-02-instance-incident-on-diagram")

    page.fill(f"#retries-{incident.key}", "2")
    page.click(f"tr[data-incident='{incident.key}'] button[type=submit]")
    page.wait_for_selector(f"text=Incident {incident.key} was resolved")
    page.wait_for_selector("#diagram[data-ready=true] svg")
    page.wait_for_selector(".djs-element.fs-active[data-element-id=Charge]")
    assert page.locator(".djs-element.fs-incident").count() == 0
    assert page.locator(".diagram-badge--active").count() == 1
    screenshot(page, "inspector-03-incident-resolved")
    assert errors == []
    incident.refresh_from_db()
    assert incident.state == "RESOLVED"
    assert Job.objects.get(key=incident.job_key).state == "ACTIVATABLE"
    assert not Incident.objects.filter(state="ACTIVE").exists()
