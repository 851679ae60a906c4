"""The operator's admin pages on a big database: changelists and the dashboard, p50 / p99.

    .venv/bin/python bench/admin_pages.py [instances] [requests_per_page] [--reuse] [--only=NAME]

Builds its own database (flowsync_bench_admin): one tenant with five deployed processes, then,
set-based (INSERT … SELECT generate_series, seconds not minutes): `instances` process instances
(default 1,000,000; 90% completed, 10% active, 2% with an incident), instances/10 incidents,
instances/10 jobs, as many audit entries as instances, instances/5 commands and events;
VACUUM ANALYZE (`--reuse`: keep the database the last run filled; migrations and data as
they are). Then it signs in as a tenant operator who is not a superuser (the scoped path)
and requests each page `requests_per_page` times (default 20) through the Django test client in
this process: full request (session, auth, scoping, queries, template), no network. Prints per
page p50 / p99 wall time, the CPU time of this process per request (p50), the time its SQL
statements took (p50 and p99) and the SQL statements per request. Wall times on a shared machine are
noisy: the load average is printed with them.

Last run: see docs/admin.md ("Speed").
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from pathlib import Path

os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flowsync_bench_admin")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import percentile, setup_django, tenant  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BASE = 4_000_000_000_000_000  # keys of the generated rows (far from the key sequence)


def process_bpmn(pid: str) -> bytes:
    src = (ROOT / "tests" / "engine" / "bpmn" / "hello-service-task.bpmn").read_bytes()
    return src.replace(b'"order-process"', f'"{pid}"'.encode()).replace(b'id="Definitions_Order"',
                                                                          f'id="D_{pid}"'.encode())


def seed(n: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from engine.definitions.deploy import Resource, deploy

    t = tenant()
    _, definitions = deploy(t, [Resource(f"p{i}.bpmn", process_bpmn(f"process-{i}")) for i in range(5)],
                            timezone.now())
    defs = sorted((d.key, d.bpmn_process_id) for d in definitions)
    def_keys = "ARRAY[" + ",".join(str(k) for k, _ in defs) + "]::bigint[]"
    def_ids = "ARRAY[" + ",".join(f"'{p}'" for _, p in defs) + "]"
    started = time.perf_counter()
    with connection.cursor() as cur:
        # Instances: every 10th active, every 50th with an incident; the rest finished.
        cur.execute(f"""
            INSERT INTO engine_processinstance (key, tenant_id, definition_id, business_key, state, has_incident,
                start_date, end_date, parent_instance_key, parent_element_instance_key, root_instance_key)
            SELECT {BASE} + i, %s, ({def_keys})[1 + i %% 5], 'B-' || i,
                   CASE WHEN i %% 10 = 0 THEN 'ACTIVE' WHEN i %% 7 = 0 THEN 'TERMINATED' ELSE 'COMPLETED' END,
                   i %% 50 = 0, now() - (i || ' seconds')::interval,
                   CASE WHEN i %% 10 = 0 THEN NULL ELSE now() - (i || ' seconds')::interval + interval '3 s' END,
                   NULL, NULL, {BASE} + i
            FROM generate_series(1, %s) AS i""", [t.pk, n])
        cur.execute(f"""
            INSERT INTO engine_incident (key, tenant_id, process_instance_key, process_definition_key,
                bpmn_process_id, element_instance_key, element_id, job_key, error_type, error_message, state,
                created_at, resolved_at)
            SELECT {2 * BASE} + i, %s, {BASE} + i * 10, ({def_keys})[1 + (i * 10) %% 5], ({def_ids})[1 + (i * 10) %% 5],
                   {3 * BASE} + i, 'Task_Pay', {4 * BASE} + i,
                   CASE WHEN i %% 3 = 0 THEN 'JOB_NO_RETRIES' ELSE 'EXTRACT_VALUE_ERROR' END, 'card declined ' || i,
                   CASE WHEN i %% 5 = 0 THEN 'ACTIVE' ELSE 'RESOLVED' END, now() - (i || ' minutes')::interval, NULL
            FROM generate_series(1, %s) AS i""", [t.pk, n // 10])
        cur.execute(f"""
            INSERT INTO engine_job (key, tenant_id, process_instance_key, element_instance_key, element_id,
                process_definition_key, bpmn_process_id, process_definition_version, type, state, retries, failures,
                worker, deadline, backoff_until, custom_headers, lease_token, error_message, attempts, created_at)
            SELECT {4 * BASE} + i, %s, {BASE} + i * 10, {3 * BASE} + i, 'Task_Pay', ({def_keys})[1 + (i * 10) %% 5],
                   ({def_ids})[1 + (i * 10) %% 5], 1, 'payment',
                   CASE WHEN i %% 4 = 0 THEN 'ACTIVATABLE' WHEN i %% 4 = 1 THEN 'ACTIVATED' ELSE 'COMPLETED' END,
                   3, 0, CASE WHEN i %% 4 = 1 THEN 'worker-' || (i %% 7) ELSE '' END,
                   CASE WHEN i %% 4 = 1 THEN now() + interval '5 min' END, NULL, '{{}}', '', '', '[]',
                   now() - (i || ' seconds')::interval
            FROM generate_series(1, %s) AS i""", [t.pk, n // 10])
        cur.execute(f"""
            INSERT INTO flowsync_auditentry (tenant_id, who, user_id, api_key_id, via, what, target_type, target_key,
                process_instance_key, before, after, request_id, created_at)
            SELECT %s, 'api:fs_bench', NULL, NULL, 'api',
                   CASE WHEN i %% 10 = 0 THEN 'instance.cancel' ELSE 'instance.start' END, 'process-instance',
                   ({BASE} + i)::text, {BASE} + i, NULL, NULL, md5(i::text), now() - (i || ' seconds')::interval
            FROM generate_series(1, %s) AS i""", [t.pk, n])
        cur.execute(f"""
            INSERT INTO engine_command (tenant_id, process_instance_key, kind, payload, state, actor, created_at,
                processed_at, keys, error)
            SELECT %s, {BASE} + i, 'CREATE_INSTANCE', '{{}}', 'PROCESSED', 'api:fs_bench',
                   now() - (i || ' seconds')::interval, now() - (i || ' seconds')::interval, '[]', ''
            FROM generate_series(1, %s) AS i""", [t.pk, n // 5])
        cur.execute(f"""
            INSERT INTO engine_event (tenant_id, process_instance_key, command_id, command_kind, created_at, records)
            SELECT %s, {BASE} + i, NULL, 'CREATE_INSTANCE', now() - (i || ' seconds')::interval, '[]'
            FROM generate_series(1, %s) AS i""", [t.pk, n // 5])
    filled = time.perf_counter() - started
    connection.cursor().execute("VACUUM ANALYZE")
    print(f"filled {n:,} instances, {n // 10:,} incidents, {n // 10:,} jobs, {n:,} audit entries, "
          f"{n // 5:,} commands and events in {filled:.1f} s (+ VACUUM ANALYZE "
          f"{time.perf_counter() - started - filled:.1f} s)", flush=True)


def operator():  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import User

    from flowsync.models import Membership, Role
    from flowsync.staff import make_tenant_admin

    user = User.objects.create_user("olga", password="bench")
    make_tenant_admin(user, tenant())
    Membership.objects.filter(user=user).update(role=Role.OPERATOR)  # staff, scoped, not a superuser
    return user


def main() -> None:
    reuse = "--reuse" in sys.argv  # time the pages again on the database the last run filled
    # --only=NAME: time only the pages whose name contains NAME (e.g. --only=commands), for more requests
    only = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--only=")), "")
    args = [a for a in sys.argv[1:] if a != "--reuse" and not a.startswith("--only=")]
    n = int(args[0]) if args else 1_000_000
    per_page = int(args[1]) if len(args) > 1 else 20
    if reuse:
        os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
        os.environ["DJANGO_SETTINGS_MODULE"] = "flowsync.settings"
        os.environ.setdefault("FLOWSYNC_SECRET_KEY", secrets.token_urlsafe(50))
        os.environ.setdefault("FLOWSYNC_LOG_LEVEL", "WARNING")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.contrib.auth.models import User

        User.objects.filter(username="olga").delete()
    else:
        setup_django()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = ["*"]
    if not reuse:
        seed(n)
    client = Client()
    client.force_login(operator())
    deep = BASE + n // 2  # a page from the middle of the instances: keyset, no OFFSET
    pages = [
        ("dashboard", "/admin/"),
        ("instances", "/admin/engine/processinstance/"),
        ("instances ACTIVE", "/admin/engine/processinstance/?state__exact=ACTIVE"),
        ("instances with incident", "/admin/engine/processinstance/?has_incident__exact=1"),
        ("instances middle page", f"/admin/engine/processinstance/?after={deep}"),
        ("instance by key", f"/admin/engine/processinstance/?q={deep}"),
        ("incidents ACTIVE", "/admin/engine/incident/?state__exact=ACTIVE"),
        ("jobs", "/admin/engine/job/"),
        ("jobs ACTIVATED", "/admin/engine/job/?state__exact=ACTIVATED"),
        ("audit entries", "/admin/flowsync/auditentry/"),
        ("audit of one instance", f"/admin/flowsync/auditentry/?q={deep}"),
        ("commands", "/admin/engine/command/"),
        ("events", "/admin/engine/event/"),
        ("definitions", "/admin/engine/processdefinition/"),
    ]
    print(f"load average before: {os.getloadavg()[0]:.2f}; {per_page} requests per page", flush=True)
    # wall: the whole request; cpu: this process's CPU (Python: Django, templates); sql: the time the
    # page's statements took as seen from here (PostgreSQL's work plus the round trips).
    print(f"{'page':<26} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms':>8} {'sql ms':>8} {'sql p99':>8} {'queries':>8}")
    for name, url in [p for p in pages if only in p[0]]:
        assert client.get(url).status_code == 200, url  # warm-up (and a check)
        walls, cpus, sqls, count = [], [], [], 0
        for _ in range(per_page):
            with CaptureQueriesContext(connection) as queries:
                w, c = time.perf_counter(), time.process_time()
                response = client.get(url)
                walls.append(time.perf_counter() - w)
                cpus.append(time.process_time() - c)
            assert response.status_code == 200
            sqls.append(sum(float(q["time"]) for q in queries.captured_queries))
            count += len(queries)
        print(f"{name:<26} {percentile(walls, 50) * 1000:8.1f} {percentile(walls, 99) * 1000:8.1f} "
              f"{percentile(cpus, 50) * 1000:8.1f} {percentile(sqls, 50) * 1000:8.1f} "
              f"{percentile(sqls, 99) * 1000:8.1f} {count / per_page:8.1f}",
              flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
