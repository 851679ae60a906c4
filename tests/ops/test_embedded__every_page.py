"""Every operator page answers on the demo data, on whichever database runs the tests: the run
command's embedded SQLite (the second pass of scripts/test.sh) as well as PostgreSQL. Pages with
PostgreSQL-only SQL (a recursive CTE, a JSON containment filter) once answered 503 on SQLite."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse

from engine.models import ProcessDefinition, ProcessInstance, UserTask
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(tmp_path) -> Client:  # type: ignore[no-untyped-def]
    call_command("flowsync_bootstrap", "--demo", "--credentials-file", str(tmp_path / "creds.json"))
    drain()
    client = Client()
    client.force_login(User.objects.get(username="demo"))  # the demo user the run command prints
    return client


@pytest.fixture
def root(demo) -> Client:  # type: ignore[no-untyped-def]
    """The administrator the run command creates (a superuser and the default tenant's admin)."""
    client = Client()
    client.force_login(User.objects.get(username="admin"))
    return client


def test_every_admin_list_and_a_row_of_each_answer(demo, root):
    shown = 0
    for model in admin.site._registry:
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        try:
            url = reverse(f"{name}_changelist")
        except NoReverseMatch:
            continue
        response = root.get(url)
        assert response.status_code in (200, 403), (url, response.status_code)  # 403: not a tenant admin's
        if response.status_code == 403:
            continue
        shown += model._meta.app_label == "engine"
        # Unmanaged models (django-rq's queue dashboard) have no table: their page is all there is.
        row = model._default_manager.order_by().first() if model._meta.managed else None
        if row is not None:
            change = reverse(f"{name}_change", args=[row.pk])
            assert root.get(change).status_code in (200, 302), change
    assert root.get("/admin/").status_code == 200
    assert shown >= 15  # the engine's tables are the operator's


def test_every_inspector_and_tasklist_page_answers(demo, root):
    instance = ProcessInstance.objects.order_by("key").first()
    definition = ProcessDefinition.objects.order_by("key").first()
    for page in ["/inspector/", "/inspector/definitions/", "/inspector/incidents/", "/inspector/engine/",
                 "/inspector/batches/", f"/inspector/instances/{instance.key}/",
                 f"/inspector/definitions/{definition.key}/"]:
        assert root.get(page).status_code == 200, page
    for page in ["/tasks/", "/tasks/?list=assigned", "/tasks/?list=all"]:
        assert demo.get(page, follow=True).status_code == 200, page
    task = UserTask.objects.filter(assignee="demo").first()
    assert demo.get(f"/tasks/{task.key}/").status_code == 200
