"""Tasklist fixtures: tenants, people with groups, and processes run by the real engine."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.utils import timezone

from engine.actions.instances import start_instance
from engine.definitions.deploy import Resource, deploy
from engine.models import ProcessDefinition, UserTask
from engine.runtime.loop import drain as run_engine
from flowsync.models import Membership, Tenant

BPMN = Path(__file__).resolve().parent / "bpmn"
PASSWORD = "correct horse battery staple"


def make_user(username: str, tenants: list[Tenant], groups: tuple[str, ...] = (), *, see_all: bool = False) -> User:
    user = User.objects.create_user(username, password=PASSWORD)
    for tenant in tenants:
        Membership.objects.create(tenant=tenant, user=user)
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    if see_all:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="engine", codename="view_usertask"))
    return user


class Flow:
    """Deploys the BPMN files beside these tests and runs instances through actions + engine loop."""

    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        self.clock = timezone.now() - timedelta(hours=1)

    def now(self):  # type: ignore[no-untyped-def]
        self.clock += timedelta(milliseconds=5)
        return self.clock

    def deploy(self, *names: str) -> list[ProcessDefinition]:
        resources = [Resource(name, (BPMN / name).read_bytes()) for name in names]
        return deploy(self.tenant, resources, self.now())[1]

    def start(self, process_id: str, business_key: str = "", *, drain: bool = True, **variables: Any) -> int:
        found = ProcessDefinition.objects.filter(tenant=self.tenant, bpmn_process_id=process_id)
        definition = found.order_by("-version").first()
        assert definition is not None, f"{process_id} is not deployed"
        instance = start_instance(self.tenant, definition, variables, "test", self.now(), business_key=business_key)
        if drain:
            run_engine()
        return instance.key

    def open_task(self, instance_key: int) -> UserTask:
        return UserTask.objects.get(process_instance_key=instance_key, state=UserTask.State.CREATED)


@pytest.fixture(autouse=True)
def fast_passwords(settings):  # type: ignore[no-untyped-def]
    # PBKDF2 costs ~0.3 s per user; these tests log people in, they do not test hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def acme(db) -> Tenant:  # type: ignore[no-untyped-def]
    return Tenant.objects.create(tenant_id="acme", name="Acme")


@pytest.fixture
def globex(db) -> Tenant:  # type: ignore[no-untyped-def]
    return Tenant.objects.create(tenant_id="globex", name="Globex")


@pytest.fixture
def flow(acme: Tenant) -> Flow:
    return Flow(acme)


@pytest.fixture
def globex_flow(globex: Tenant) -> Flow:
    return Flow(globex)


@pytest.fixture
def alice(acme: Tenant) -> User:
    return make_user("alice", [acme], ("accounting", "staff"))


@pytest.fixture
def bob(acme: Tenant) -> User:
    return make_user("bob", [acme], ("accounting", "staff"))


@pytest.fixture
def carol(acme: Tenant) -> User:
    """In acme, but in none of the candidate groups."""
    return make_user("carol", [acme], ("sales",))


@pytest.fixture
def operator(acme: Tenant) -> User:
    return make_user("olga", [acme], (), see_all=True)


@pytest.fixture
def invoice(flow: Flow) -> Flow:
    flow.deploy("invoice-approval.bpmn")
    return flow


def start_invoice(flow: Flow, business_key: str = "INV-1", **extra: Any) -> UserTask:
    variables = {"supplier": "Globex Ltd", "amount": 1250.5, "priority": 60,
                 "dueDate": (timezone.now() + timedelta(days=3)).isoformat(), **extra}
    return flow.open_task(flow.start("invoice-approval", business_key, **variables))


def login(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in response.context["messages"]]
