"""In a real browser under the pages' CSP: the Engine dashboard and the Definitions pages show the time from
start to end per version (p50/p99, from the engine workers' periodic count), and a version's heatmap counts
new tokens and incidents by itself, without a reload."""

from __future__ import annotations

from django.utils import timezone

from engine.actions.user_tasks import complete_user_task
from engine.runtime.loop import drain
from engine.store import definition_counts
from flowsync.models import Membership
from tests.inspector.conftest import Flow, make_user
from tests.inspector.test_browser__find_and_understand import sign_in


def test_durations_on_dashboard_and_definitions_and_the_heatmap_refreshes(
        live_server, transactional_db, creds, settings, page, screenshot):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    flow = Flow(creds.tenant)
    flow.deploy()
    done = [flow.start(f"DONE-{n}") for n in range(3)]
    for key in done:  # run each to its end through the engine: charge, then ship
        flow.complete_charge(key)
        complete_user_task(flow.ids, flow.open_task(key).key, {}, "clerk", flow.now())
        drain()
    waiting = flow.start("WAIT-1")
    definition_counts.refresh(timezone.now(), force=True)  # what the engine workers' sweep does every 5 minutes
    definition = flow.tenant.processdefinition_set.get(version=1)
    counts = definition.counts
    assert counts.durations == 3 and counts.duration_p99 is not None
    make_user("olga", {creds.tenant: Membership.Role.OPERATOR})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server.url, "/inspector/engine/")

    # The dashboard: a bar per version, p50 and p99 as text, linked to the version's page.
    row = page.locator("section[data-panel=durations] tr[data-duration='Inspect order v1']")
    assert row.get_attribute("data-count") == "3"
    assert float(row.get_attribute("data-p99") or "nan") == counts.duration_p99
    assert row.locator("td").nth(0).inner_text().endswith(" ms")  # the engine ran them in milliseconds
    assert row.locator("rect.hbar__fill--p99").get_attribute("width") == "100.00"
    screenshot(page, "inspector-durations-01-dashboard")

    # The Definitions page: the same figures per version.
    page.goto(f"{live_server.url}/inspector/definitions/")
    cell = page.locator("section[data-process=inspect-order] tr[data-version='1'] td[data-durations]")
    assert cell.get_attribute("data-durations") == "3" and " / " in cell.inner_text()

    # The version's page: the heatmap shows the one waiting token, then new ones and an incident appear
    # without a reload (the page asks every few seconds and says when it last did).
    page.click(f"a[href='/inspector/definitions/{definition.key}/']")
    page.wait_for_selector("#diagram[data-ready=true] svg")
    assert page.locator("[data-version-durations='3'] [data-p50]").count() == 1
    badge = page.locator(".djs-overlays[data-container-id=Charge] .diagram-badge--active")
    assert badge.inner_text() == "1"
    stamp = page.locator("#heatmap-stamp time").get_attribute("datetime")
    page.evaluate("window.__same_page = true")  # gone if the page reloads
    more = [flow.start(f"NEW-{n}") for n in range(2)]
    flow.fail_to_incident(waiting)
    page.wait_for_function(
        "() => (document.querySelector('.djs-overlays[data-container-id=Charge] .diagram-badge--active') || {})"
        ".textContent === '3'", timeout=15_000)
    page.locator(".djs-overlays[data-container-id=Charge] .diagram-badge--incident").wait_for()
    assert page.evaluate("window.__same_page") is True
    assert int(page.locator("#diagram").get_attribute("data-refreshes") or 0) >= 1
    assert page.locator("#heatmap-stamp time").get_attribute("datetime") != stamp
    screenshot(page, "inspector-durations-02-live-heatmap")
    assert len(more) == 2 and errors == []
