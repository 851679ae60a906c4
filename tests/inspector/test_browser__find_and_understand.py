"""What an operator clicks to find and understand, in a real browser under the pages' CSP (a violation fails
the test, tests/conftest.py): sort by a column header and reverse it, save a filter and open it again, group
incidents and follow a group to its instances, click an element on the diagram for its panel, see a
version's heatmap and click through to the instances waiting at an element, climb the call breadcrumb."""

from __future__ import annotations

from engine.models import ProcessInstance
from flowsync.models import Membership
from tests.inspector.conftest import PASSWORD, Flow, make_user


def sign_in(page, base: str, next_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_url}")


def test_find_sort_save_group_and_understand(live_server, transactional_db, creds, settings, page, screenshot):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    flow = Flow(creds.tenant)
    flow.deploy()
    stuck = [flow.start(f"ORD-{n}", tier="gold" if n % 2 else "silver") for n in (3, 1, 2)]
    for key in stuck[:2]:
        flow.fail_to_incident(key)
    flow.deploy("inspect-parent.bpmn")
    parent = flow.start("P-1", process_id="inspect-parent")
    child = ProcessInstance.objects.get(parent_instance_key=parent).key
    make_user("olga", {creds.tenant: Membership.Role.OPERATOR})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server.url, "/inspector/")

    # Sort by business key, then reverse it: a second click on the same header.
    page.click("th[data-sort-column=business_key] a")
    page.wait_for_selector("th[data-sort-column=business_key][aria-sort=ascending]")
    def business_keys() -> list[str]:  # "—" is the called child's empty business key
        return [t.replace("—", "") for t in page.locator("#instance-results tbody td:nth-child(3)").all_inner_texts()]

    keys = business_keys()
    assert keys == sorted(keys) and len(keys) == 5
    page.click("th[data-sort-column=business_key] a")
    page.wait_for_selector("th[data-sort-column=business_key][aria-sort=descending]")
    assert business_keys() == sorted(keys, reverse=True)

    # Filter by the incident's message, save it, clear, open it again from its name.
    page.fill("#f-incident-message", "gateway")
    page.click(".inspector-filters button[type=submit]")
    page.wait_for_url("**incident_message=gateway**")
    assert page.locator("[data-instance-link]").count() == 2
    page.fill("#save-filter-name", "Stuck charges")
    page.click(".saved-filters__save button[type=submit]")
    page.wait_for_selector("text=Filter “Stuck charges” saved.")
    page.click("a:text('Clear')")
    page.wait_for_selector("[data-saved-filter='Stuck charges']")
    assert page.locator("[data-instance-link]").count() == 5
    page.click("[data-saved-filter='Stuck charges'] a")
    page.wait_for_url("**incident_message=gateway**")
    assert sorted(page.locator("[data-instance-link]").all_inner_texts()) == sorted(str(k) for k in stuck[:2])
    screenshot(page, "inspector-find-01-saved-filter")

    # Incidents grouped by element, then to the instances of the group.
    page.goto(f"{live_server.url}/inspector/incidents/")
    page.select_option("#i-group", "element")
    page.click("form.filters button[type=submit]")
    group = page.locator("tr[data-incident-group='Charge card']")
    assert group.locator("td[data-count]").inner_text() == "2"
    screenshot(page, "inspector-find-02-incidents-grouped")
    group.locator("a:text('Show instances')").click()
    page.wait_for_url("**incident_element=Charge**")
    assert sorted(page.locator("[data-instance-link]").all_inner_texts()) == sorted(str(k) for k in stuck[:2])

    # Click the failing task on the diagram: its panel with the variables it sees, its incident and job.
    page.goto(f"{live_server.url}/inspector/instances/{stuck[0]}/")
    page.wait_for_selector("#diagram[data-ready=true] svg")
    page.click(".djs-element[data-element-id=Charge]")
    panel = page.locator("#element-panel[data-element-panel=Charge]")
    panel.wait_for()
    assert "?element=Charge" in page.url
    assert panel.locator("tr[data-variable=tier] code").inner_text() == '"gold"'
    assert panel.locator("[data-panel-incident]").count() == 1
    assert panel.locator("[data-panel-job]").count() == 1
    screenshot(page, "inspector-understand-01-element-panel")

    # The version's heatmap: every token of the version waits at Charge (the darkest badge); a click lists them.
    definition = flow.tenant.processdefinition_set.get(bpmn_process_id="inspect-order", version=1)
    page.goto(f"{live_server.url}/inspector/definitions/")
    page.click(f"a[href='/inspector/definitions/{definition.key}/']")
    page.wait_for_selector("#diagram[data-ready=true] svg")
    badge = page.locator(".djs-overlays[data-container-id=Charge] .diagram-badge--active")
    assert badge.inner_text() == "4"  # two stuck, one waiting to be charged, the called child
    assert "diagram-heat--4" in (badge.get_attribute("class") or "")
    assert page.locator(".version-chart__row[data-chart-version='1'] rect[data-segment=incident]").count() == 1
    screenshot(page, "inspector-understand-02-heatmap")
    page.click(".djs-element[data-element-id=Charge]")
    page.wait_for_url("**active_element=Charge**")
    assert page.locator("[data-instance-link]").count() == 4  # the three above and the called child

    # A called instance: the breadcrumb leads up to its parent, whose page lists it.
    page.goto(f"{live_server.url}/inspector/instances/{child}/")
    page.click(f"#call-breadcrumb a[data-ancestor='{parent}']")
    page.wait_for_url(f"**/inspector/instances/{parent}/")
    assert page.locator(f"#called-instances a[data-child='{child}']").count() == 1
    assert errors == []
