"""The admin's big lists read by index, seen in their plans (EXPLAIN, no timings; bench/admin_pages.py
times them): a small tenant's commands among a big tenant's many, instances with an incident, and a
business-id search, each as a tenant operator (not a superuser) sees them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from engine.models import ProcessDefinition
from flowsync.models import Membership, Role, Tenant
from flowsync.staff import make_tenant_admin
from tests.conftest import deploy_file, make_tenant

pytestmark = pytest.mark.django_db

N = 40_000  # the big tenant's rows
BASE = 8 * 10**13


def deployed(tenant_id: str) -> tuple[Tenant, ProcessDefinition]:
    creds = make_tenant(tenant_id)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=creds.header)
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    return creds.tenant, ProcessDefinition.objects.get(tenant=creds.tenant)


@pytest.fixture
def filled(db, settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    big, big_def = deployed("big")
    small, small_def = deployed("small")
    with connection.cursor() as cur:
        for tenant, definition, n, offset in ((big, big_def, N, 0), (small, small_def, 40, N)):
            cur.execute(
                "INSERT INTO engine_processinstance (key, tenant_id, definition_id, business_key, state, has_incident,"
                " start_date, parent_instance_key, root_instance_key)"
                " SELECT %(b)s + g, %(t)s, %(d)s, 'BK-' || g, 'ACTIVE', g %% 500 = 0, now() - make_interval(secs => g),"
                " NULL, %(b)s + g FROM generate_series(%(o)s + 1, %(o)s + %(n)s) g",
                {"b": BASE, "t": tenant.pk, "d": definition.pk, "n": n, "o": offset})
            cur.execute(
                "INSERT INTO engine_command (tenant_id, process_instance_key, kind, payload, state, actor, created_at,"
                " keys, error, traceparent) SELECT %(t)s, %(b)s + g, 'CREATE_INSTANCE', '{}', 'PROCESSED', 'x', now(),"
                " '[]', '', '' FROM generate_series(%(o)s + 1, %(o)s + %(n)s) g",
                {"b": BASE, "t": tenant.pk, "n": n, "o": offset})
        cur.execute("ANALYZE engine_processinstance")
        cur.execute("ANALYZE engine_command")
    user = User.objects.create_user("sam", password="pw-123456789")
    make_tenant_admin(user, small)
    Membership.objects.filter(user=user, tenant=small).update(role=Role.OPERATOR)
    client = Client()
    client.force_login(user)
    return client


def list_plan(client: Client, url: str, table: str) -> str:
    """The plan of the statement that fetches the page's rows."""
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    [sql] = [q["sql"] for q in ctx.captured_queries
             if f'FROM "{table}"' in q["sql"] and "LIMIT" in q["sql"] and "COUNT" not in q["sql"].upper()]
    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cur.fetchall())


def test_a_small_tenants_commands_walk_the_tenant_index_newest_first(filled):
    plan = list_plan(filled, "/admin/engine/command/", "engine_command")
    # On PostgreSQL the table is partitioned: each partition's copy of cmd_tenant_idx is named after it.
    assert ("cmd_tenant_idx" in plan or "tenant_id_id_idx" in plan) and "Index Scan Backward" in plan, plan
    # The weeks created ahead are empty: the planner reads those for free (cost 0), then sorts the small
    # tenant's few rows; every partition that holds rows must be walked by the index.
    costly_scans = [line for line in plan.splitlines() if "Seq Scan" in line and "cost=0.00..0.00" not in line]
    assert not costly_scans, plan


def test_instances_with_an_incident_use_the_partial_index(filled):
    plan = list_plan(filled, "/admin/engine/processinstance/?has_incident__exact=1", "engine_processinstance")
    assert "pi_incident_idx" in plan and "Seq Scan" not in plan, plan


def test_business_id_search_uses_the_tenant_business_key_index(filled):
    plan = list_plan(filled, f"/admin/engine/processinstance/?q=BK-{N + 7}", "engine_processinstance")
    assert "pi_tenant_bk_idx" in plan and "Seq Scan on engine_processinstance" not in plan, plan
    assert f"BK-{N + 7}" in filled.get(f"/admin/engine/processinstance/?q=BK-{N + 7}").content.decode()
    # A process id still finds its instances.
    assert "\n40 process instances" in filled.get("/admin/engine/processinstance/?q=order-process").content.decode()


@pytest.mark.parametrize("url", ["/admin/engine/command/", "/admin/engine/incident/",
                                 "/admin/engine/elementinstance/", "/admin/engine/event/"])
def test_list_filters_list_their_choices_without_reading_the_table(filled, url):
    """A filter on a plain text column (command kind, incident error type, element type) lists its
    choices from the fixed vocabulary: Django's default is SELECT DISTINCT over every row of the
    tenant, which cost the commands page most of its time at a million instances."""
    with CaptureQueriesContext(connection) as ctx:
        page = filled.get(url)
    assert page.status_code == 200
    distinct = [q["sql"] for q in ctx.captured_queries if "DISTINCT" in q["sql"].upper()]
    assert not distinct, distinct
    # The vocabulary is offered as filter links.
    if url == "/admin/engine/command/":
        assert "?kind=CREATE_INSTANCE" in page.content.decode()
        assert "\n40 commands" in filled.get("/admin/engine/command/?kind=CREATE_INSTANCE").content.decode()
        assert "0 commands" in filled.get("/admin/engine/command/?kind=CANCEL_INSTANCE").content.decode()
