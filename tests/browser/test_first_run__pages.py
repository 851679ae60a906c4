"""What a new user sees first, in a real browser: the demo processes drawn in the Inspector (three
of the four demo files carry no diagram layout), the API docs rendered with the network blocked
to anything but this server, and the start page leading to the four surfaces."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from engine.models import ProcessInstance
from engine.runtime.loop import drain
from flowsync.models import Membership, Tenant
from tests.inspector.conftest import PASSWORD, make_user


@pytest.fixture
def demo(transactional_db, tmp_path) -> Tenant:  # type: ignore[no-untyped-def]
    call_command("flowsync_bootstrap", "--demo", "--credentials-file", str(tmp_path / "creds.json"))
    drain()
    return Tenant.objects.get(tenant_id="<default>")


def only_this_server(page, base: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Abort every request that is not to the live server; return the aborted URLs."""
    blocked: list[str] = []

    def route(r):  # type: ignore[no-untyped-def]
        if r.request.url.startswith(base):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return blocked


def log_in(page, base: str, username: str, next_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_url}")


def test_every_demo_process_is_drawn_in_the_inspector(live_server, demo, page, screenshot):
    make_user("olga", {demo: Membership.Role.OPERATOR})
    blocked = only_this_server(page, live_server.url)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, live_server.url, "olga", "/inspector/")
    # The Inspector is called the Inspector, and shows none of the Tasklist's keyboard hints.
    assert page.locator(".brand").inner_text().strip() == "FlowSync Inspector"
    assert "next/previous task" not in page.locator(".site-footer").inner_text()

    one_per_process: dict[str, int] = {}
    instances = ProcessInstance.objects.filter(tenant=demo).values_list("key", "definition__bpmn_process_id")
    for key, process_id in instances:
        one_per_process.setdefault(process_id, key)
    assert set(one_per_process) == {"order-process", "order-messages", "invoice-approval", "expense-claim"}
    for process_id, key in sorted(one_per_process.items()):
        page.goto(f"{live_server.url}/inspector/instances/{key}/")
        page.wait_for_selector("#diagram[data-ready]")
        assert page.get_attribute("#diagram", "data-ready") == "true", page.inner_text("#diagram-message")
        shapes = page.locator("#diagram .djs-element.djs-shape").count()
        assert shapes > 2, (process_id, shapes)
        # Tasks and events, not only the canvas and the bpmn.io logo.
        assert page.locator("#diagram .djs-element.djs-shape[data-element-id]").count() == shapes
        assert page.locator("#diagram .djs-element.djs-connection").count() >= 2, process_id
        box = page.locator("#diagram .djs-element.djs-shape").first.bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0
        screenshot(page, f"first-run-diagram-{process_id}")
    assert errors == [] and blocked == []


def test_a_diagram_that_cannot_be_drawn_says_so_outside_the_box(live_server, demo, page, settings, monkeypatch):
    from engine.definitions import diagram

    monkeypatch.setattr(diagram, "_cache", type(diagram._cache)())

    def broken(xml: str) -> str:
        raise ValueError("no luck")

    import bpmn_io

    monkeypatch.setattr(bpmn_io, "layout_process", broken)
    make_user("olga", {demo: Membership.Role.OPERATOR})
    key = ProcessInstance.objects.filter(tenant=demo, definition__bpmn_process_id="invoice-approval").first().key
    log_in(page, live_server.url, "olga", "/inspector/")
    page.goto(f"{live_server.url}/inspector/instances/{key}/")
    page.wait_for_selector("#diagram[data-ready=error]")
    message = page.locator("#diagram-message")
    assert message.is_visible()
    assert "cannot be drawn" in message.inner_text() and "no luck" in message.inner_text()
    # Above the diagram box, not clipped inside it.
    assert page.locator("#diagram #diagram-message").count() == 0
    box = message.bounding_box()
    assert box and box["height"] > 0


def test_api_docs_render_with_only_this_server_reachable(live_server, transactional_db, page, screenshot):
    blocked = only_this_server(page, live_server.url)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=30_000)
    operations = page.locator(".opblock-summary-path")
    assert operations.count() > 20
    paths = {operations.nth(i).inner_text().strip().replace("\u200b", "") for i in range(operations.count())}
    assert "/v2/jobs/activation" in paths and "/v2/process-instances" in paths
    screenshot(page, "first-run-api-docs")
    assert blocked == [] and errors == []


def test_start_page_leads_to_the_four_surfaces(live_server, transactional_db, page):
    blocked = only_this_server(page, live_server.url)
    page.goto(f"{live_server.url}/")
    links = {page.locator(".landing h2 a").nth(i).inner_text(): page.locator(".landing h2 a").nth(i).get_attribute(
        "href") for i in range(page.locator(".landing h2 a").count())}
    assert links == {"Tasklist": "/tasks/", "Inspector": "/inspector/", "Admin": "/admin/", "API docs": "/api/docs/"}
    for href in links.values():
        response = page.goto(f"{live_server.url}{href}")
        assert response is not None and response.status == 200, href
    page.goto(f"{live_server.url}/v2/")
    assert re.search(r"/api/docs/$", page.url)
    assert blocked == []
