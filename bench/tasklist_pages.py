"""Tasklist pages under load: "Offered to me", "Assigned to me" and "All open" with 1,000,000 open tasks.

    .venv/bin/python bench/tasklist_pages.py [open_tasks] [requests_per_page]

BENCH_DATABASE_URL names the database (default flowsync_bench_tasklist); BENCH_REUSE=1 keeps one an earlier
run filled (migrating it, so new indexes are built on the filled tables) instead of building it anew.

Builds its own database (flowsync_bench_tasklist) set-based (INSERT … SELECT FROM generate_series, rows
spread by multiplicative hashing of the row number, so every run builds the same ones): one tenant, 50
candidate groups, N open user tasks (each offered to one group, every tenth also to a second one; 10%
assigned to one of 200 people) plus N/5 completed ones, then VACUUM ANALYZE. People measured:

- ann: member of 2 groups (~4% of the open tasks offered: 40,000 at 1M), 500 tasks assigned;
- ben: member of 10 groups (~20%: 200,000 at 1M) — a heavy case;
- olga: holds engine.view_usertask and pages through "All open".

Server time is the full Django request (session, auth, queries, template rendering) through the test
client in this process, so network and browser time are excluded. Beside wall time it prints this
process's CPU per request and PostgreSQL's planning + execution time of the request's statements (EXPLAIN
ANALYZE; the machine is shared), the time of deep keyset pages, and EXPLAIN (ANALYZE, BUFFERS) of the
queries the Offered and Assigned pages run against the task tables.

Last run (2026-12-02 12:35 UTC, BENCH_REUSE=1 on a database built by this script: 1,000,000 open + 200,000
completed tasks, 20 requests per page, load average 9 before and 17 after on 2 cores). Per page, Python CPU
p99 + PostgreSQL CPU ("PG CPU": the request's statements run 10 times, the backend's CPU from /proc, which
unlike wall time does not grow while waiting for a core), nothing over 55 ms: ann (2 groups, 40,000 offered)
Offered 25 + 14 ms, by due date 25 + 19, by priority 31 + 17; Assigned 28 + 15 (by due date 29 + 11, by
priority 30 + 12); overdue + high 32 + 17, due today 28 + 11, this week by priority 19 + 12, critical by due
date 25 + 20; search "BK-00012" 21 + 17 (by due date 24 + 16), "approve" (every task) 26 + 20, "zz" 23 + 17,
task name + process 32 + 20, a process without open tasks by due date 31 + 14. ben (10 groups, 200,000
offered): Offered 33 + 11, by due date 38 + 11, by priority 36 + 11, overdue + high 34 + 12, search 33 + 18;
Assigned 26 + 12. olga: All open 28 + 4, by priority 29 + 3, search 32 + 10, overdue + critical by due date
29 + 3. Wall p99 72-413 ms, 19 of the 27 pages under 150 ms (the others: one or two slow requests of 20, p50
41-175 ms); EXPLAIN ANALYZE's clock 2-61 ms. Deep keyset pages (191-200) of ann's Offered p99 106 ms.
The same script on the same database with the code before this change (5a16779), load 19 (and 21 for the
new code then): PG CPU ann's filtered and searched offers 176-223 ms (new: 15-25), ben's Offered 88-94 ms
(new: 9-11), ben overdue + high 578 ms and search 700 ms (new: 9-10); wall p99 of ann's filters 890-1,360
ms, ben's 1,850-2,070 ms. What changed: a filter over the offer runs the semi-join the sorted pages use (walk
the sort's or the filter's index, probe each task's candidate rows by task) instead of fetching the whole
offer by key to filter it; the Offered tab counts candidate rows name by name up to 1,001 open, unassigned
tasks (1,000-2,000 key probes) instead of an array of the whole offer (220,000 keys for ben); the search has
a btree on the upper-cased business key and a trigram index on the names (engine/migrations/0027, open tasks
only: +8.5 us of CPU per task row written, 20-21.5 vs 11.5-13 us in a set-based INSERT), with extended
statistics so that a common term walks the list's order; task_open_process_idx (0028) finds a small
process's tasks (100-140 ms of PG CPU before, ~1 ms now; its write cost was below this measure's noise).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flowsync_bench_tasklist")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_DB, db_ms, fmt, measure, reused, setup_django, sql_cpu_ms, tenant, walk  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GROUPS = [f"team-{i:02d}" for i in range(50)]
PEOPLE = [f"user{i:03d}" for i in range(200)]


def seed(n_open: int, n_done: int) -> dict:
    from django.contrib.auth.models import Group, Permission, User
    from django.db import connection
    from django.utils import timezone

    from engine.definitions.deploy import Resource, deploy
    from engine.models import UserTaskCandidate
    from flowsync.models import Membership

    t = tenant()
    bpmn = ROOT / "tests" / "tasklist" / "bpmn"
    _, definitions = deploy(t, [Resource(n, (bpmn / n).read_bytes())
                                for n in ("invoice-approval.bpmn", "expense-claim.bpmn")], timezone.now())
    groups = {name: Group.objects.create(name=name) for name in GROUPS}

    def person(name: str, member_of: list[str], see_all: bool = False) -> User:
        user = User.objects.create_user(name, password="bench")
        Membership.objects.create(tenant=t, user=user)
        user.groups.set([groups[g] for g in member_of])
        if see_all:
            user.user_permissions.add(Permission.objects.get(content_type__app_label="engine",
                                                             codename="view_usertask"))
        return user

    person("ann", GROUPS[:2])
    person("ben", GROUPS[10:20])
    person("olga", [], see_all=True)

    t0 = time.perf_counter()
    # Set-based: one INSERT … SELECT FROM generate_series per table (a million tasks in seconds, not a
    # Python loop). Spread by multiplicative hashing of the row number, so every run builds the same rows.
    p = {"t": t.pk, "open": n_open, "all": n_open + n_done, "d1": definitions[0].key, "d2": definitions[1].key,
         "p1": definitions[0].bpmn_process_id, "p2": definitions[1].bpmn_process_id,
         "n1": definitions[0].name, "n2": definitions[1].name, "base": 10**15}
    with connection.cursor() as cur:
        cur.execute("""
            INSERT INTO engine_usertask (key, tenant_id, process_instance_key, element_instance_key, element_id,
              process_definition_key, bpmn_process_id, process_definition_version, process_name, business_key,
              name, state, assignee, candidate_users, candidate_groups, due_date, follow_up_date, priority,
              form_key, form_id, external_form_reference, custom_headers, creation_date, completion_date,
              completed_by)
            SELECT %(base)s + i, %(t)s, %(base)s + i, %(base)s + i, 'Task_Approve',
                   CASE WHEN i %% 2 = 0 THEN %(d1)s ELSE %(d2)s END,
                   CASE WHEN i %% 2 = 0 THEN %(p1)s ELSE %(p2)s END, 1,
                   CASE WHEN i %% 2 = 0 THEN %(n1)s ELSE %(n2)s END,
                   'BK-' || lpad(i::text, 7, '0'), 'Approve item ' || (i %% 37),
                   CASE WHEN i >= %(open)s THEN 'COMPLETED' ELSE 'CREATED' END,
                   CASE WHEN i < 500 THEN 'ann'
                        WHEN i >= %(open)s OR (i * 7919) %% 100 < 10
                        THEN 'user' || lpad(((i * 31) %% 200)::text, 3, '0')
                        ELSE '' END,
                   '[]'::jsonb,
                   CASE WHEN i %% 10 = 0
                        THEN jsonb_build_array('team-' || lpad(((i * 7919) %% 50)::text, 2, '0'),
                                               'team-' || lpad(((i * 104729 + 13) %% 50)::text, 2, '0'))
                        ELSE jsonb_build_array('team-' || lpad(((i * 7919) %% 50)::text, 2, '0')) END,
                   CASE WHEN i %% 5 = 0 THEN NULL
                        ELSE now() - (%(all)s - i) * interval '1 minute'
                             + ((i * 17) %% 30 - 10) * interval '1 day' END,
                   NULL, (i * 37) %% 101, '', '', '', '{}'::jsonb,
                   now() - (%(all)s - i) * interval '1 minute',
                   CASE WHEN i >= %(open)s THEN now() - (%(all)s - i) * interval '1 minute' + interval '1 hour' END, ''
            FROM generate_series(0::bigint, %(all)s - 1) i""", p)
        # Candidate rows exist only while a task is open.
        cur.execute("""
            INSERT INTO engine_usertaskcandidate (task_id, tenant_id, kind, name)
            SELECT u.key, %(t)s, 'group', g.name
            FROM engine_usertask u, jsonb_array_elements_text(u.candidate_groups) g(name)
            WHERE u.tenant_id = %(t)s AND u.state = 'CREATED'""", p)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps: statistics and visibility map
    print(f"seeded {n_open:,} open + {n_done:,} completed tasks, "
          f"{UserTaskCandidate.objects.count():,} candidate rows in {time.perf_counter() - t0:.1f}s")
    return {"tenant": t}


def explain(client, url: str) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    print(f"\n--- {url}: {len(ctx.captured_queries)} queries; EXPLAIN of those on the task tables ---")
    for query in ctx.captured_queries:
        sql = query["sql"]
        if "engine_usertask" not in sql:
            continue
        print(f"\n{sql[:400]}{' …' if len(sql) > 400 else ''}")
        with connection.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)
            for (line,) in cur.fetchall():
                print("   " + line)


def main(n_open: int, n_requests: int) -> None:
    setup_django()
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()  # lets the test client expose response.context
    from django.conf import settings
    from django.contrib.auth.models import User

    settings.ALLOWED_HOSTS = ["*"]
    from engine.models import UserTask

    if reused() and UserTask.objects.exists():
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("ANALYZE")  # statistics a migration added since (autovacuum would, later)
        print(f"reusing {BENCH_DB.rsplit('/', 1)[1]} (BENCH_REUSE=1): {UserTask.objects.count():,} tasks")
    else:
        seed(n_open, n_open // 5)

    clients = {}
    for name in ("ann", "ben", "olga"):
        clients[name] = Client()
        clients[name].force_login(User.objects.get(username=name))

    print(f"\nserver time per page, {n_requests} requests each (Django test client, in process); "
          f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    rows = [
        ("ann", "/tasks/offered/"), ("ann", "/tasks/offered/?sort=due"), ("ann", "/tasks/offered/?sort=priority"),
        ("ann", "/tasks/assigned/"), ("ann", "/tasks/assigned/?sort=due"),
        ("ann", "/tasks/assigned/?sort=priority"), ("ann", "/tasks/offered/?due=overdue&priority=high"),
        ("ann", "/tasks/offered/?q=BK-00012"),
        # The rest of the filter set (engine/queries/tasks.TaskFilters) over the offer: due windows with
        # (almost) nothing in them, a band sorted by due date, a rare, a common, a short and a name term.
        ("ann", "/tasks/offered/?due=today"), ("ann", "/tasks/offered/?due=week&sort=priority"),
        ("ann", "/tasks/offered/?priority=critical&sort=due"), ("ann", "/tasks/offered/?q=BK-00012&sort=due"),
        ("ann", "/tasks/offered/?q=approve"), ("ann", "/tasks/offered/?q=zz"),
        ("ann", "/tasks/offered/?name=item+3&process=expense-claim"),
        ("ann", "/tasks/offered/?process=rare-process&sort=due"),  # a process with no open task
        ("ben", "/tasks/offered/"), ("ben", "/tasks/offered/?sort=due"), ("ben", "/tasks/offered/?sort=priority"),
        ("ben", "/tasks/offered/?due=overdue&priority=high"), ("ben", "/tasks/offered/?q=BK-00012"),
        ("ben", "/tasks/assigned/"),
        ("olga", "/tasks/all/"), ("olga", "/tasks/all/?sort=priority"), ("olga", "/tasks/all/?q=BK-00012"),
        ("olga", "/tasks/all/?due=overdue&priority=critical&sort=due"),
    ]
    print(f"  {'':5s} {'url':52s} {'wall ms':24s} {'python CPU ms':24s} queries  SQL ms  PG CPU ms")
    for who, url in rows:
        timings = measure(clients[who], url, n_requests, warm=5)
        queries, sql = db_ms(clients[who], url)
        pg_cpu = sql_cpu_ms(clients[who], url)
        print(f"  {who:5s} {url:52s} {fmt(timings.wall)}   {fmt(timings.cpu)}   {queries:4d}  {sql:7.1f}"
              f"  {pg_cpu:6.1f}")

    print("\nkeyset pages deep into a list (Next link after Next link)")
    for who, url, pages in (("ann", "/tasks/offered/", 200), ("olga", "/tasks/all/", 500),
                            ("olga", "/tasks/all/?sort=due", 500)):
        wall = walk(clients[who], url, pages).wall
        print(f"  {who:5s} {url:28s} {len(wall)} pages: pages 1-10 {fmt(wall[:10])} ms | "
              f"pages {max(1, len(wall) - 9)}-{len(wall)} {fmt(wall[-10:])} ms")

    print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    explain(clients["ann"], "/tasks/offered/")
    explain(clients["ann"], "/tasks/assigned/")
    explain(clients["ben"], "/tasks/offered/?sort=due")
    explain(clients["ann"], "/tasks/offered/?due=overdue&priority=high")
    explain(clients["ann"], "/tasks/offered/?q=BK-00012")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000, int(sys.argv[2]) if len(sys.argv) > 2 else 50)
