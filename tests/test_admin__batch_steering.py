"""The admin steers batches with the same actions as the Inspector and the API: suspend, resume, cancel
(refused with the reason when the state does not allow it), scoped to the person's tenants."""

from __future__ import annotations

import pytest

from engine.models import BatchOperation, ProcessInstance
from flowsync.models import AuditEntry
from tests.test_admin__operations import run_queued_batches, seed, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def flushed(flush_redis, settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_admin_suspends_resumes_and_cancels_batches(flushed, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    acme, _, _ = seed("acme", 3)
    sam = staff("sam", acme)
    pks = list(ProcessInstance.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        sam.post("/admin/engine/processinstance/", {"action": "cancel_instances", "_selected_action": pks})
    batch = BatchOperation.objects.get()
    page = sam.post("/admin/engine/batchoperation/", {"action": "suspend_batches", "_selected_action": [batch.pk]},
                    follow=True).content.decode()
    assert f"Batch {batch.pk} suspended." in page
    run_queued_batches()
    batch.refresh_from_db()
    assert batch.state == "SUSPENDED" and not batch.done
    with django_capture_on_commit_callbacks(execute=True):
        sam.post("/admin/engine/batchoperation/", {"action": "resume_batches", "_selected_action": [batch.pk]})
    run_queued_batches()
    batch.refresh_from_db()
    assert batch.state == "DONE" and len(batch.done) == 3
    page = sam.post("/admin/engine/batchoperation/", {"action": "cancel_batches", "_selected_action": [batch.pk]},
                    follow=True).content.decode()
    assert "cannot be cancelled" in page
    assert list(AuditEntry.objects.filter(what__startswith="batch.").order_by("id").values_list("what", flat=True)) \
        == ["batch.create", "batch.suspended", "batch.resumed"]
