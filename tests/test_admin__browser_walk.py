"""The admin walk of issue 12 in a real browser (Chromium, headless, live server), as a tenant
integrator (the issue's "developer": an operator who may also deploy) who is not a superuser:
deploy a file with an error (problems inline), fix and deploy it, start an instance, resolve an
incident (retry its job with new retries), cancel a batch of 200 instances (select all across
pages) and watch it reach DONE, and find each act in the audit list; a staff user of another
tenant sees none of it."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from engine.actions.batches import run_batch, start_batch
from engine.models import BatchOperation, Incident, Job, ProcessInstance
from flowsync.models import AuditEntry, Membership, Role
from flowsync.staff import make_tenant_admin
from tests.conftest import BPMN_DIR, make_tenant
from tests.test_admin__operations import BROKEN

PASSWORD = "pw-walk-123456789"


def login(page, url: str, name: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


def staff(name: str, tenant, role: str) -> User:  # type: ignore[no-untyped-def]
    user = User.objects.create_user(name, password=PASSWORD)
    make_tenant_admin(user, tenant)
    Membership.objects.filter(user=user, tenant=tenant).update(role=role)
    return user


def test_integrator_walks_deploy_start_batch_cancel_and_audit(live_server, transactional_db, settings, page,
                                                              new_context, screenshot, tmp_path):
    settings.ENGINE_INLINE = True  # the engine and the batches run in the web process
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    acme_creds = make_tenant("acme")
    acme = acme_creds.tenant
    globex_creds = make_tenant("globex")
    staff("ida", acme, Role.INTEGRATOR)
    staff("gil", globex_creds.tenant, Role.ADMIN)

    login(page, live_server.url, "ida")
    assert page.locator("#operator-dashboard").is_visible()
    page.goto(f"{live_server.url}/admin/engine/deployment/")
    page.click("text=Deploy files")
    broken, good = tmp_path / "broken.bpmn", tmp_path / "order.bpmn"
    broken.write_bytes(BROKEN)
    good.write_bytes((BPMN_DIR / "hello-service-task.bpmn").read_bytes())
    page.set_input_files("input[name=files]", [str(broken)])
    page.click("input[type=submit]")
    page.wait_for_selector("#deploy-problems")
    assert "Charge" in page.inner_text("#deploy-problems") and "broken.bpmn" in page.inner_text("#deploy-problems")
    screenshot(page, "admin-01-deploy-problems")
    page.set_input_files("input[name=files]", [str(good)])
    page.click("input[type=submit]")
    page.wait_for_selector("text=Deployed order-process v1")

    page.goto(f"{live_server.url}/admin/engine/processdefinition/")
    page.click("text=order-process")
    page.click("text=Start an instance")
    page.fill("textarea[name=variables]", '{"orderId": "A-1"}')
    page.fill("input[name=business_id]", "WALK-1")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Started instance")
    first = ProcessInstance.objects.get(business_key="WALK-1")
    assert page.locator(f"a[href='/inspector/instances/{first.key}/']").count() == 1
    screenshot(page, "admin-02-started")

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=acme_creds.header)
    for i in range(199):  # 200 running with WALK-1
        api.post("/v2/process-instances", {"processDefinitionId": "order-process", "businessId": f"B{i}"},
                 format="json")
    # One job fails for good: an incident to resolve.
    job = api.post("/v2/jobs/activation", {"type": "payment", "timeout": 60_000, "maxJobsToActivate": 1},
                   format="json").json()["jobs"][0]
    api.post(f"/v2/jobs/{job['jobKey']}/failure", {"retries": 0, "errorMessage": "gateway down"}, format="json")
    incident = Incident.objects.get(tenant=acme, state="ACTIVE")
    page.goto(f"{live_server.url}/admin/engine/incident/")
    assert "JOB_NO_RETRIES" in page.inner_text("#result_list")
    page.goto(f"{live_server.url}/admin/engine/job/?q={job['jobKey']}")
    page.check(f"input[name=_selected_action][value='{Job.objects.get(key=int(job['jobKey'])).pk}']")
    page.select_option("select[name=action]", "retry_jobs")
    page.fill("input[name=retries]", "2")
    page.click("button[name=index]")
    page.wait_for_selector("text=queued as")
    page.click("text=batch")
    page.wait_for_selector("text=DONE")
    assert Incident.objects.get(pk=incident.pk).state == "RESOLVED"
    page.goto(f"{live_server.url}/admin/engine/incident/?state__exact=RESOLVED")
    assert str(incident.key) in page.inner_text("#result_list")
    screenshot(page, "admin-03-incident-resolved")

    page.goto(f"{live_server.url}/admin/engine/processinstance/?state__exact=ACTIVE")
    page.click("#action-toggle")
    page.click("text=Select all 200")  # every page of the list, not only the 50 shown
    page.select_option("select[name=action]", "cancel_instances")
    # Inline, the request itself cancels the 200 (ENGINE_INLINE): give a busy machine time.
    page.click("button[name=index]", timeout=60_000)
    page.wait_for_selector("text=queued as")
    page.click("text=batch")
    page.wait_for_selector("text=DONE")
    assert "200/200" in page.content()
    screenshot(page, "admin-04-batch-done")
    assert BatchOperation.objects.get(kind=BatchOperation.Kind.CANCEL_INSTANCES).state == "DONE"
    assert ProcessInstance.objects.filter(tenant=acme, state="ACTIVE").count() == 0

    page.goto(f"{live_server.url}/admin/flowsync/auditentry/?what=instance.cancel")
    assert "200 audit entries" in page.content()
    page.goto(f"{live_server.url}/admin/flowsync/auditentry/?what=incident.resolve")
    assert page.locator("#result_list tbody tr").count() == 1
    page.goto(f"{live_server.url}/admin/flowsync/auditentry/?what=batch.create")
    assert page.locator("#result_list tbody tr").count() == 2  # the retry and the cancel
    page.goto(f"{live_server.url}/admin/flowsync/auditentry/?q=user%3Aida&what=deploy")
    assert page.locator("#result_list tbody tr").count() == 1
    page.goto(f"{live_server.url}/admin/flowsync/auditentry/?q=user%3Aida&what=instance.start")
    assert page.locator("#result_list tbody tr").count() == 1
    screenshot(page, "admin-05-audit")
    whats = list(AuditEntry.objects.filter(tenant=acme, who="user:ida", via="admin").values_list("what", flat=True))
    assert sorted(set(whats)) == ["batch.create", "deploy", "incident.resolve", "instance.cancel", "instance.start",
                                  "job.update"]
    assert len(whats) == 1 + 1 + 1 + 1 + 1 + 1 + 200

    other = new_context().new_page()
    login(other, live_server.url, "gil")
    other.goto(f"{live_server.url}/admin/flowsync/auditentry/")
    assert "user:ida" not in other.content()
    other.goto(f"{live_server.url}/admin/engine/batchoperation/")
    assert "user:ida" not in other.content()
    other.goto(f"{live_server.url}/admin/engine/processinstance/")
    assert "WALK-1" not in other.content()


def test_batch_page_refreshes_itself_until_done(live_server, transactional_db, settings, page):
    """The batch's page polls (htmx) while the batch runs and stops once it is DONE: no reload."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    creds = make_tenant("acme")
    staff("ida", creds.tenant, Role.OPERATOR)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=creds.header)
    api.post("/v2/deployments", {"resources": [SimpleUploadedFile(
        "order.bpmn", (BPMN_DIR / "hello-service-task.bpmn").read_bytes())]}, format="multipart")
    keys = [int(api.post("/v2/process-instances", {"processDefinitionId": "order-process"},
                         format="json").json()["processInstanceKey"]) for _ in range(5)]
    # Stored, not yet run (as while it waits for a worker).
    batch = start_batch(creds.tenant, Role.OPERATOR, BatchOperation.Kind.CANCEL_INSTANCES, keys, "user:ida",
                        queue=False)
    login(page, live_server.url, "ida")
    page.goto(f"{live_server.url}/admin/engine/batchoperation/{batch.pk}/change/")
    assert "0/5 · QUEUED" in page.inner_text("#batch-live")
    page.evaluate("window.notReloaded = true")
    run_batch(batch.pk)
    page.wait_for_selector("#batch-live:has-text('5/5 · DONE')", timeout=10_000)
    assert page.evaluate("window.notReloaded") is True  # swapped in place, not a reload
    assert page.locator("#batch-progress").get_attribute("value") == "5"
    assert page.locator("#batch-live[hx-trigger]").count() == 0  # DONE: polling stopped
