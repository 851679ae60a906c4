"""Repair at scale in a real browser, against a live server and a real engine worker (which also runs the
RQ batch jobs): migrate one instance with the form (its refusals shown as form errors, then a dry run,
then the migration), migrate 50 instances with a renamed element as a batch over the list's filter, and
batch-cancel 500 instances while the batch page shows the progress reaching 500 without a reload. The
audit trail holds each act. Every browser test fails on a CSP violation (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.actions.instances import start_instance
from engine.definitions.deploy import Resource, deploy
from engine.models import BatchOperation, ElementInstance, ProcessDefinition, ProcessInstance
from flowsync.models import AuditEntry, Membership
from tests.conftest import wait_for
from tests.inspector.conftest import PASSWORD, Flow, make_user

API_BPMN = Path(__file__).resolve().parents[1] / "api" / "bpmn"


def login(page, url: str, next_: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/accounts/login/?next={next_}")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_}")


@pytest.mark.slow
def test_migrate_one_then_fifty_then_cancel_five_hundred(live_server, transactional_db, creds, settings, page,
                                                        screenshot, start_worker):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    worker = start_worker()
    flow = Flow(creds.tenant)
    for name in ("migration-v1.bpmn", "migration-v2.bpmn"):
        deploy(creds.tenant, [Resource(name, (API_BPMN / name).read_bytes())], flow.now())
    v1, v2 = ProcessDefinition.objects.filter(bpmn_process_id="migration").order_by("version")
    solo = start_instance(creds.tenant, v1, {}, "starter", flow.now(), business_key="SOLO").key
    keys = [start_instance(creds.tenant, v1, {"i": i}, "starter", flow.now(),
                           business_key=f"{'M' if i < 50 else 'C'}-{i:03}").key for i in range(499)]
    wait_for(lambda: ElementInstance.objects.filter(element_id="Task_Review", state="ACTIVE").count() == 500,
             timeout=120)
    make_user("olga", {creds.tenant: Membership.Role.OPERATOR})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # One instance, with the form: refusals are form errors, a dry run shows the plan, then it migrates.
    login(page, live_server.url, f"/inspector/instances/{solo}/")
    page.click("#migrate-link")
    page.select_option("#m-target", str(v2.key))
    page.click("button[name=show]")
    page.wait_for_selector("#map-Task_Pay")
    assert page.input_value("#map-Task_Review") == "Task_Review"  # pre-filled: same id and kind
    assert page.input_value("#map-Task_Pay") == ""  # renamed in v2: the operator maps it
    page.click("button[value=check]")
    assert "no mapping instruction for active element 'Task_Pay'" in page.inner_text("#migrate-error")
    page.select_option("#map-Task_Pay", "Task_Pack")
    page.click("button[value=check]")
    assert "flow scope of active element 'Task_Pay' cannot be changed" in page.inner_text("#migrate-error")
    page.select_option("#map-Task_Pay", "Task_Charge")
    page.click("button[value=check]")
    assert "Task_Charge" in page.inner_text("#migrate-plan")
    screenshot(page, "inspector-migrate-01-dry-run")
    page.click("button[value=migrate]")
    page.wait_for_selector("text=Migration to version 2 sent to the engine")
    wait_for(lambda: ProcessInstance.objects.get(key=solo).definition_id == v2.key, timeout=30)

    # Fifty instances, as a batch over the list's filter (business key prefix M, version 1).
    page.goto(f"{live_server.url}/inspector/?process=migration&version=1&business_key=M-")
    page.wait_for_selector("#batch-form")
    page.select_option("#batch-scope", "filter")
    page.select_option("#batch-kind", "migrate-instances")
    page.click("#batch-form button[type=submit]")
    assert page.inner_text("#batch-count") == "50"
    page.select_option("#m-target", str(v2.key))
    page.click("button[name=show]")
    page.select_option("#map-Task_Pay", "Task_Charge")
    page.check("#confirm")
    page.click("#batch-start")
    page.wait_for_selector("#batch-progress")
    page.wait_for_selector("#batch-state:text('DONE')", timeout=60_000)
    assert page.inner_text("#batch-handled") == "50" and page.inner_text("#batch-failed") == "0"
    wait_for(lambda: ProcessInstance.objects.filter(definition=v2).count() == 51, timeout=60)

    # Every instance of the process (500: 51 on v2, 449 on v1), cancelled as one batch; the page follows it live.
    page.goto(f"{live_server.url}/inspector/?process=migration")
    page.select_option("#batch-scope", "filter")
    page.select_option("#batch-kind", "cancel-instances")
    page.click("#batch-form button[type=submit]")
    assert page.inner_text("#batch-count") == "500"
    page.check("#confirm")
    page.click("#batch-start")
    page.wait_for_selector("#batch-progress")
    page.evaluate("window.__sameDocument = true")
    page.wait_for_selector("#batch-handled:text('500')", timeout=120_000)
    page.wait_for_selector("#batch-state:text('DONE')", timeout=30_000)
    assert page.evaluate("window.__sameDocument") is True  # the progress came in without a reload
    screenshot(page, "inspector-batch-02-cancelled-500")
    wait_for(lambda: not ProcessInstance.objects.filter(key__in=[solo, *keys], state="ACTIVE").exists(),
             timeout=120)
    assert errors == []
    assert worker.proc.poll() is None, worker.output()
    assert AuditEntry.objects.filter(what="instance.migrate", via="inspector").count() == 51
    assert AuditEntry.objects.filter(what="instance.cancel", via="inspector").count() == 500
    assert AuditEntry.objects.filter(what="batch.create", via="inspector").count() == 2
    assert BatchOperation.objects.filter(state="DONE").count() == 2


def test_ticked_rows_survive_the_live_refresh_and_make_the_batch(live_server, transactional_db, creds, settings,
                                                                 page):  # type: ignore[no-untyped-def]
    settings.ENGINE_INLINE = True  # the batch runs at once, inline (no Redis job)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    flow = Flow(creds.tenant)
    flow.deploy()
    first, second, third = (flow.start(f"ORD-{i}") for i in range(3))
    make_user("olga", {creds.tenant: Membership.Role.OPERATOR})
    login(page, live_server.url, "/inspector/")
    page.check(f"#pick-{first}")
    page.check(f"#pick-{third}")
    page.select_option("#batch-kind", "cancel-instances")
    page.evaluate("window.__sameDocument = true")
    newer = flow.start("ORD-9")  # the list refreshes by itself and shows it
    page.wait_for_selector(f"[data-instance-link]:text('{newer}')")
    assert page.is_checked(f"#pick-{first}") and page.is_checked(f"#pick-{third}")
    assert not page.is_checked(f"#pick-{second}")
    assert page.input_value("#batch-kind") == "cancel-instances"
    assert page.evaluate("window.__sameDocument") is True
    page.click("#batch-form button[type=submit]")
    assert page.inner_text("#batch-count") == "2"
    page.click("#batch-start")  # without the confirmation: a form error, nothing started
    assert "Tick the box to confirm" in page.inner_text("#batch-error")
    page.check("#confirm")
    page.click("#batch-start")
    page.wait_for_selector("#batch-state:text('DONE')")
    assert page.inner_text("#batch-handled") == "2"
    assert {ProcessInstance.objects.get(key=k).state for k in (first, third)} == {"TERMINATED"}
    assert {ProcessInstance.objects.get(key=k).state for k in (second, newer)} == {"ACTIVE"}
