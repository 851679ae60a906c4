"""The Inspector in a real browser: Debian's Chromium (never `playwright install`), headless, on the live server.

An operator logs in, finds the instance with an incident, sees it on the bpmn-js diagram, resolves it.
Screenshots go to artifacts/screenshots/ (ignored by git).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.models import Incident, Job
from flowsync.models import Membership
from tests.inspector.conftest import PASSWORD, Flow, make_user

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture
def chromium_page() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is not installed (scripts/setup.sh --dev installs it)")
    from playwright.sync_api import sync_playwright

    # Sync Playwright runs an event loop in this thread; the test's ORM calls are synchronous and safe.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as runtime:
            browser = runtime.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(timezone_id="UTC", locale="en-GB", viewport={"width": 1280, "height": 900})
            context.set_default_timeout(15_000)
            try:
                yield context.new_page()
            finally:
                context.close()
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_operator_resolves_an_incident_seen_on_the_diagram(live_server, transactional_db, creds, settings,
                                                           chromium_page):
    settings.ENGINE_INLINE = True  # what the pages submit is applied before the response
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    flow = Flow(creds.tenant)
    flow.deploy()
    flow.start("ORD-OK")
    key = flow.start("ORD-BROKEN", tier="gold")
    incident = flow.fail_to_incident(key)
    make_user("olga", {creds.tenant: Membership.Role.OPERATOR})
    page = chromium_page
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
    shot(page, "inspector-01-instances-with-incident")
    links.first.click()
    page.wait_for_url(f"**/inspector/instances/{key}/")

    page.wait_for_selector("#diagram[data-ready=true] svg")
    page.wait_for_selector(".djs-element.fs-incident[data-element-id=Charge]")
    assert page.locator(".diagram-badge--incident").count() == 1
    assert page.locator(".djs-element.fs-completed[data-element-id=Start]").count() == 1
    assert page.locator(f"tr[data-incident='{incident.key}']").is_visible()
    shot(page, "inspector-02-instance-incident-on-diagram")

    page.fill(f"#retries-{incident.key}", "2")
    page.click(f"tr[data-incident='{incident.key}'] button[type=submit]")
    page.wait_for_selector(f"text=Incident {incident.key} was resolved")
    page.wait_for_selector("#diagram[data-ready=true] svg")
    page.wait_for_selector(".djs-element.fs-active[data-element-id=Charge]")
    assert page.locator(".djs-element.fs-incident").count() == 0
    assert page.locator(".diagram-badge--active").count() == 1
    shot(page, "inspector-03-incident-resolved")
    assert errors == []
    incident.refresh_from_db()
    assert incident.state == "RESOLVED"
    assert Job.objects.get(key=incident.job_key).state == "ACTIVATABLE"
    assert not Incident.objects.filter(state="ACTIVE").exists()
