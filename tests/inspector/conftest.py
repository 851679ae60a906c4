"""Inspector fixtures: operators and members of tenants, and instances run by the real engine."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from engine.actions.instances import start_instance
from engine.actions.jobs import activate_jobs, complete_job, fail_job
from engine.definitions.deploy import Resource, deploy
from engine.models import Incident, Job, ProcessDefinition, UserTask
from engine.runtime.loop import drain
from flowsync.models import Membership, Tenant

BPMN = Path(__file__).resolve().parent / "bpmn"
PASSWORD = "inspector test password"
JOB_TYPE = "inspect-charge"


def make_user(username: str, memberships: dict[Tenant, str], **extra: Any) -> User:
    user = User.objects.create_user(username, password=PASSWORD, **extra)
    for tenant, role in memberships.items():
        Membership.objects.create(tenant=tenant, user=user, role=role)
    return user


class Flow:
    """Deploys the BPMN beside these tests and drives instances through actions and the engine loop."""

    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        self.clock = timezone.now() - timedelta(hours=2)

    def now(self):  # type: ignore[no-untyped-def]
        self.clock += timedelta(milliseconds=10)
        return self.clock

    @property
    def ids(self) -> list[int]:
        return [self.tenant.pk]

    def deploy(self, name: str = "inspect-order.bpmn") -> list[ProcessDefinition]:
        return deploy(self.tenant, [Resource(name, (BPMN / name).read_bytes())], self.now())[1]

    def start(self, business_key: str = "", process_id: str = "inspect-order", **variables: Any) -> int:
        definition = ProcessDefinition.objects.filter(tenant=self.tenant, bpmn_process_id=process_id).order_by(
            "-version").first()
        assert definition is not None
        key = start_instance(self.tenant, definition, variables, "starter", self.now(), business_key=business_key).key
        drain()
        return key

    def activate(self) -> list[Job]:
        return activate_jobs(self.ids, JOB_TYPE, "worker-1", 60_000, 50, self.now())

    def fail_to_incident(self, instance_key: int) -> Incident:
        job = Job.objects.get(process_instance_key=instance_key, state__in=["ACTIVATABLE", "ACTIVATED"])
        activate_jobs(self.ids, JOB_TYPE, "worker-1", 60_000, 50, self.now())
        fail_job(self.ids, job.key, 0, "card gateway down", None, None, "worker-1", self.now())
        drain()
        return Incident.objects.get(process_instance_key=instance_key, state="ACTIVE")

    def complete_charge(self, instance_key: int) -> None:
        self.activate()
        job = Job.objects.get(process_instance_key=instance_key, state="ACTIVATED")
        complete_job(self.ids, job.key, {"charged": True}, "worker-1", self.now())
        drain()

    def open_task(self, instance_key: int) -> UserTask:
        return UserTask.objects.get(process_instance_key=instance_key, state="CREATED")


@pytest.fixture
def tenant(creds) -> Tenant:  # type: ignore[no-untyped-def]
    return creds.tenant


@pytest.fixture
def other_tenant(other_creds) -> Tenant:  # type: ignore[no-untyped-def]
    return other_creds.tenant


@pytest.fixture
def flow(tenant: Tenant) -> Flow:
    f = Flow(tenant)
    f.deploy()
    return f


@pytest.fixture
def other_flow(other_tenant: Tenant) -> Flow:
    f = Flow(other_tenant)
    f.deploy()
    return f


@pytest.fixture
def operator(tenant: Tenant) -> User:
    return make_user("olga", {tenant: Membership.Role.OPERATOR})


@pytest.fixture
def op_client(operator: User) -> Client:
    client = Client()
    client.force_login(operator)
    return client
