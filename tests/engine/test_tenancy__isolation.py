"""A key of tenant B can neither see nor touch anything of tenant A: 404, never 403, so keys do not leak."""

from __future__ import annotations

import pytest

from engine.models import Job
from engine.runtime.loop import drain
from tests.conftest import deploy_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant_a_instance(api):
    deploy_file(api, "hello-service-task.bpmn")
    key = api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json").json()[
        "processInstanceKey"
    ]
    drain()
    return key


def test_other_tenant_cannot_read_activate_or_complete(api, other_api, tenant_a_instance):
    assert other_api.get(f"/v2/process-instances/{tenant_a_instance}").status_code == 404
    assert other_api.post(f"/v2/process-instances/{tenant_a_instance}/cancellation").status_code == 404
    resp = other_api.post(
        "/v2/jobs/activation", {"type": "payment", "timeout": 1000, "maxJobsToActivate": 10}, format="json"
    )
    assert resp.json()["jobs"] == []
    job = Job.objects.get()
    assert other_api.post(f"/v2/jobs/{job.key}/completion", format="json").status_code == 404
    job.refresh_from_db()
    assert job.state == "ACTIVATABLE"
    # Tenant B cannot start A's process either: for B it does not exist.
    assert (
        other_api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json").status_code
        == 404
    )
    # And A still sees and works its own.
    assert api.get(f"/v2/process-instances/{tenant_a_instance}").status_code == 200
    assert (
        len(
            api.post(
                "/v2/jobs/activation", {"type": "payment", "timeout": 1000, "maxJobsToActivate": 10}, format="json"
            ).json()["jobs"]
        )
        == 1
    )


def test_tenant_id_outside_the_keys_tenants_is_refused(other_api, tenant_a_instance):
    resp = other_api.post(
        "/v2/process-instances", {"processDefinitionId": "order-process", "tenantId": "<default>"}, format="json"
    )
    assert resp.status_code == 403


def test_admin_revokes_api_keys(admin_client, api, creds):
    from flowsync.models import ApiKey

    assert api.get("/v2/topology").status_code == 200
    key = ApiKey.objects.get(client_id=creds.client_id)
    resp = admin_client.post("/admin/flowsync/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True)
    assert resp.status_code == 200
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api.get("/v2/topology").status_code == 401
