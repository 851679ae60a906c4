"""The Tasklist in a real browser: log in, claim, fail validation, complete; the claim race; tenant walls."""

from __future__ import annotations

import base64
import logging
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from engine.models import UserTask
from flowsync.models import ApiKey, Tenant
from tests.tasklist.conftest import BPMN, PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]
logging.getLogger("httpx").setLevel(logging.WARNING)

UNLABELLED_CONTROLS = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label')).map(el => el.name || el.id)"""


class Api:
    """The /v2 API over HTTP against the live server, as an integrating system would call it."""

    def __init__(self, base_url: str, tenant: Tenant):
        key, secret = ApiKey.issue(tenant, "browser-tests")
        token = base64.b64encode(f"{key.client_id}:{secret}".encode()).decode()
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Basic {token}"}, timeout=20)

    def deploy(self, *names: str) -> None:
        files = [("resources", (name, (BPMN / name).read_bytes(), "application/octet-stream")) for name in names]
        response = self.http.post("/v2/deployments", files=files)
        assert response.status_code == 200, response.text

    def start(self, process_id: str, business_id: str, **variables) -> str:  # type: ignore[no-untyped-def]
        response = self.http.post("/v2/process-instances", json={
            "processDefinitionId": process_id, "variables": variables, "businessId": business_id})
        assert response.status_code == 200, response.text
        return response.json()["processInstanceKey"]

    def get(self, path: str) -> dict:
        response = self.http.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: dict) -> httpx.Response:
        return self.http.post(path, json=body)


def wait_for_task(instance_key: str) -> UserTask:
    from tests.conftest import wait_for

    return wait_for(lambda: UserTask.objects.filter(process_instance_key=int(instance_key), state="CREATED").first())


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/tasks/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/tasks/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Assigned to me")


@pytest.fixture
def acme(transactional_db) -> Tenant:  # type: ignore[no-untyped-def]
    return Tenant.objects.create(tenant_id="acme", name="Acme")


@pytest.fixture
def api(live_server, acme) -> Api:  # type: ignore[no-untyped-def]
    return Api(live_server.url, acme)


@pytest.fixture
def invoice_task(api, acme):  # type: ignore[no-untyped-def]
    api.deploy("invoice-approval.bpmn")
    due = (timezone.now() + timedelta(days=2)).isoformat()
    instance_key = api.start("invoice-approval", "INV-2031", supplier="Globex Ltd", amount=1250.5, priority=80,
                             dueDate=due)
    return instance_key, wait_for_task(instance_key)


def test_claim_fix_errors_complete_and_the_process_moves_on(live_server, page, screenshot, api, acme, invoice_task):
    instance_key, task = invoice_task
    make_user("alice", [acme], ("accounting",))
    base = live_server.url

    page.goto(f"{base}/accounts/login/")
    screenshot(page, "01-login")
    log_in(page, base, "alice")

    page.get_by_role("link", name=re.compile("Offered to me")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Offered to me")
    row = page.get_by_role("row", name=re.compile("Approve invoice"))
    expect(row).to_contain_text("INV-2031")
    expect(page.locator(".tab--current .tab__count")).to_have_text(re.compile(r"^1"))
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    screenshot(page, "02-offered-list")

    row.get_by_role("link", name="Approve invoice").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Approve invoice")
    expect(page.locator(".task__process")).to_contain_text("Invoice approval · version 1")
    expect(page.locator(".facts")).to_contain_text("accounting")
    screenshot(page, "03-task-unclaimed")
    page.get_by_role("button", name="Claim").click()
    expect(page.get_by_text("You claimed “Approve invoice”.")).to_be_visible()
    expect(page.locator("#task-assignee")).to_have_text("alice")
    expect(page.get_by_text("Invoice of Globex Ltd")).to_be_visible()
    expect(page.get_by_label("Amount")).to_have_value("1250.5")
    screenshot(page, "04-task-claimed-form")

    # An invalid value: too short a name, a discount above the maximum.
    page.get_by_label("Approver name").fill("A")
    page.get_by_label("Discount (%)").fill("50")
    page.get_by_label("Cost centre").select_option(label="Operations")
    page.get_by_label("Approve the invoice").check()
    page.get_by_role("button", name="Complete task").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(page.locator(".form-field--text.has-error .field-error")).to_contain_text("at least 2")
    expect(page.locator(".form-field--number.has-error .field-error")).to_contain_text("30")
    expect(page.get_by_label("Approver name")).to_have_value("A")
    expect(page.get_by_label("Discount (%)")).to_have_value("50")
    expect(page.get_by_label("Cost centre")).to_have_value("CC-200")
    expect(page.get_by_label("Approve the invoice")).to_be_checked()
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    screenshot(page, "05-form-errors")

    page.get_by_label("Approver name").fill("Alice Approver")
    page.get_by_label("Discount (%)").fill("5")
    page.get_by_role("button", name="Complete task").click()
    expect(page.get_by_text("Completed “Approve invoice”.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Assigned to me")
    screenshot(page, "06-completed-next")

    # Through the API: the task is completed and the process waits at the payment job.
    assert api.get(f"/v2/user-tasks/{task.key}")["state"] == "COMPLETED"
    activated = api.post("/v2/jobs/activation", {"type": "pay-invoice", "worker": "pay", "timeout": 60000,
                                                 "maxJobsToActivate": 1}).json()["jobs"]
    assert len(activated) == 1
    variables = activated[0]["variables"]
    assert variables["approverName"] == "Alice Approver" and variables["discount"] == 5
    assert variables["costCentre"] == "CC-200" and variables["approved"] is True
    assert variables["amount"] == 1250.5
    done = api.post(f"/v2/jobs/{activated[0]['jobKey']}/completion", {"variables": {}})
    assert done.status_code == 204, done.text
    assert api.get(f"/v2/process-instances/{instance_key}")["state"] == "COMPLETED"

    page.get_by_role("link", name=re.compile("Completed by me")).click()
    expect(page.get_by_role("row", name=re.compile("Approve invoice"))).to_be_visible()
    screenshot(page, "07-completed-by-me")


def test_claim_race_between_two_browsers(live_server, new_context, screenshot, acme, invoice_task):
    _, task = invoice_task
    make_user("alice", [acme], ("accounting",))
    make_user("bob", [acme], ("accounting",))
    base = live_server.url
    pages = {}
    for name in ("alice", "bob"):
        pages[name] = new_context().new_page()
        log_in(pages[name], base, name)
        pages[name].goto(f"{base}/tasks/{task.key}/?list=offered")
        expect(pages[name].get_by_role("button", name="Claim")).to_be_visible()

    # Both press Claim at (nearly) the same moment: two requests race on the server.
    with pages["alice"].expect_navigation(), pages["bob"].expect_navigation():
        for p in pages.values():
            p.evaluate("document.getElementById('claim-button').form.requestSubmit()")

    winner = UserTask.objects.get(key=task.key).assignee
    assert winner in ("alice", "bob")
    loser = "bob" if winner == "alice" else "alice"
    expect(pages[winner].get_by_text("You claimed “Approve invoice”.")).to_be_visible()
    expect(pages[winner].get_by_role("button", name="Complete task")).to_be_visible()
    expect(pages[loser].get_by_text(f"This task was already claimed by {winner}.")).to_be_visible()
    expect(pages[loser].locator("#task-assignee")).to_have_text(winner)
    expect(pages[loser].get_by_role("button", name="Complete task")).to_have_count(0)
    screenshot(pages[loser], "08-claim-race-loser")


def test_tenant_b_cannot_open_tenant_a_task(live_server, page, screenshot, acme, invoice_task):
    _, task = invoice_task
    globex = Tenant.objects.create(tenant_id="globex", name="Globex")
    make_user("gina", [globex], ("accounting",))  # right group, wrong tenant
    base = live_server.url
    log_in(page, base, "gina")
    for url in (f"/tasks/{task.key}/", f"/tasks/{task.key}/?list=offered"):
        response = page.goto(f"{base}{url}")
        assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    screenshot(page, "09-other-tenant-404")
    page.goto(f"{base}/tasks/offered/")
    expect(page.get_by_text("No tasks are offered to you right now.")).to_be_visible()
    # A forged claim from tenant B's session changes nothing.
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    status = page.evaluate(
        """([url, token]) => fetch(url, {method: 'POST', headers: {'X-CSRFToken': token}}).then(r => r.status)""",
        [f"{base}/tasks/{task.key}/claim/", token],
    )
    assert status == 404
    assert UserTask.objects.get(key=task.key).assignee == ""


def test_core_flow_works_without_javascript(live_server, new_context, screenshot, acme, invoice_task):
    _, task = invoice_task
    make_user("alice", [acme], ("accounting",))
    page = new_context(java_script_enabled=False).new_page()
    base = live_server.url
    log_in(page, base, "alice")
    page.goto(f"{base}/tasks/offered/?priority=critical")
    page.get_by_label("Search").fill("INV-2031")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"q=INV-2031"))
    row = page.get_by_role("row", name=re.compile("Approve invoice"))
    row.get_by_role("button", name=re.compile("Claim")).click()
    expect(page.get_by_text("You claimed “Approve invoice”.")).to_be_visible()
    page.get_by_label("Approver name").fill("Alice")
    page.get_by_role("button", name="Complete task").click()
    expect(page.get_by_text("Completed “Approve invoice”.")).to_be_visible()
    assert UserTask.objects.get(key=task.key).state == "COMPLETED"
    screenshot(page, "10-no-javascript")


def test_list_page_filters_with_htmx_and_keyboard(live_server, page, screenshot, api, acme):
    api.deploy("invoice-approval.bpmn")
    now = timezone.now()
    for i in range(30):
        due = (now + timedelta(hours=i * 5 - 100)).isoformat()  # the first 20 are overdue
        api.start("invoice-approval", f"INV-{i:03d}", supplier=f"Supplier {i}", amount=100 + i, priority=i * 3,
                  dueDate=due)
    from tests.conftest import wait_for

    wait_for(lambda: UserTask.objects.filter(state="CREATED").count() == 30)
    make_user("alice", [acme], ("accounting",))
    base = live_server.url
    log_in(page, base, "alice")
    page.goto(f"{base}/tasks/offered/")
    expect(page.locator(".task-row")).to_have_count(25)
    expect(page.locator(".task-row--overdue").first).to_be_visible()
    screenshot(page, "11-offered-many")
    page.get_by_role("link", name=re.compile("Next")).click()
    expect(page.locator(".task-row")).to_have_count(5)
    expect(page).to_have_url(re.compile(r"after="))
    page.get_by_label("Sort by").select_option("priority")
    expect(page).to_have_url(re.compile(r"sort=priority"))
    expect(page.locator(".task-row").first).to_contain_text("INV-029")
    page.keyboard.press("/")
    expect(page.get_by_label("Search")).to_be_focused()
    page.keyboard.type("INV-007")
    expect(page.locator(".task-row")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=INV-007"))
    page.get_by_label("Search").blur()
    page.keyboard.press("j")
    expect(page.locator("[data-task-link]").first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Approve invoice")
    assert Path(screenshot(page, "12-task-from-keyboard")).exists()
