"""Job leases (`withLease` / `jobLeaseToken`): a worker whose lock expired cannot answer for the job
once another worker holds it, even before that worker answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from engine.actions.jobs import activate_jobs, complete_job, fail_job, throw_error
from engine.errors import Conflict
from engine.models import Job, Variable
from engine.runtime.loop import drain
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db


def _activate(api, **extra):  # type: ignore[no-untyped-def]
    resp = api.post("/v2/jobs/activation", {"type": "payment", "timeout": 60_000, "maxJobsToActivate": 5,
                                            "requestTimeout": -1, **extra}, format="json")
    assert resp.status_code == 200, resp.content
    return resp.json()["jobs"]


def test_activation_with_lease_hands_out_a_token_that_answers_must_carry(api, hello):
    (job,) = _activate(api, withLease=True)
    token = job["jobLeaseToken"]
    assert isinstance(token, str) and token
    key = job["jobKey"]
    body = assert_problem(api.post(f"/v2/jobs/{key}/completion", {"jobLeaseToken": "not-the-token"},
                                   format="json"), 409)
    assert "lease" in body["detail"]
    assert api.post(f"/v2/jobs/{key}/completion", {"jobLeaseToken": token, "variables": {"paid": True}},
                    format="json").status_code == 204
    drain()
    assert Variable.objects.get(process_instance_id=int(hello), name="paid").value is True


def test_without_lease_no_token_is_shown_and_answers_need_none(api, hello):
    (job,) = _activate(api)
    assert job["jobLeaseToken"] is None
    assert api.post(f"/v2/jobs/{job['jobKey']}/completion", {}, format="json").status_code == 204


def test_an_expired_lease_cannot_answer_after_the_job_was_activated_again(api, hello):
    (slow,) = _activate(api, withLease=True)
    # The slow worker's lock runs out; another worker activates the job (the clock is moved, not slept).
    later = timezone.now() + timedelta(minutes=2)
    tenant = Job.objects.get(key=int(slow["jobKey"])).tenant_id
    (fast,) = activate_jobs([tenant], "payment", "fast", 60_000, 5, later)
    assert fast.key == int(slow["jobKey"]) and fast.lease_token != slow["jobLeaseToken"]
    # Its lock is live now, so only the token tells the two workers apart.
    for answer in (
        lambda t: complete_job([tenant], fast.key, {"by": "slow"}, "slow", later, lease=t),
        lambda t: fail_job([tenant], fast.key, 2, "boom", None, None, "slow", later, lease=t),
        lambda t: throw_error([tenant], fast.key, "E", "", None, "slow", later, lease=t),
    ):
        with pytest.raises(Conflict):
            answer(slow["jobLeaseToken"])
    complete_job([tenant], fast.key, {"by": "fast"}, "fast", later, lease=fast.lease_token)
    drain()
    assert Variable.objects.get(process_instance_id=int(hello), name="by").value == "fast"
