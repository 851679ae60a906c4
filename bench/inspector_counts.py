"""The Definitions pages' counts and the variable `contains` search at scale, before and after issue 13's
changes: what a page view costs in SQL, what the periodic count costs, and what the trigram index costs
the engine's writes.

    BENCH_DATABASE_URL=postgres://…/flowsync_bench_counts .venv/bin/python bench/inspector_counts.py [instances] [vars]

Seeds like bench/inspector_pages.py (its `seed`, set-based), then prints PostgreSQL's planning + execution
time (EXPLAIN ANALYZE) of:
- the old Definitions query (counts by state over every instance) and the page's queries now (running from
  the ACTIVE entries of the (definition, state) index, incidents from the active incidents, finished counts
  from engine_definitioncounts), for the list and a version's page;
- one periodic count (engine/store/definition_counts.py `refresh`), the work moved off the page views;
- `tier contains "ld-99"` (a common name: every instance has `tier`) with var_search_trgm_idx and without it;
- the write cost of the trigram index: INSERT of 20,000 string variables with and without it (the engine
  writes variables in the same statements either way: no extra statement, only index maintenance).
Wall times on a shared machine are noisy: it prints the load average; SQL times are PostgreSQL's own.

Last run (2026-12-02, 1,000,000 instances, 2,000,000 variables, load average 10 on 2 cores; seeding 201 s):
old Definitions counts 285.6 ms per view; the list page now 9 queries, SQL 9.7 ms, a version's page 16.4 ms;
one periodic count 159 ms (every 5 minutes); `tier contains 'ld-99'` 16.8 ms with the trigram index, 886.6 ms
without; the index 29 MB, built in 7 s; INSERT of 20,000 string variables 1,794 ms with it, 568 ms without.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flowsync_bench_counts")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import db_ms, setup_django  # noqa: E402

OLD_COUNTS = """SELECT definition_id, count(key) FILTER (WHERE state = 'ACTIVE'),
  count(key) FILTER (WHERE state = 'COMPLETED'), count(key) FILTER (WHERE state = 'TERMINATED'),
  count(key) FILTER (WHERE state = 'ACTIVE' AND has_incident) FROM engine_processinstance
  WHERE tenant_id = ANY(%s) GROUP BY definition_id"""
CONTAINS = """SELECT DISTINCT process_instance_id FROM engine_variable WHERE tenant_id = ANY(%s) AND name = 'tier'
  AND jsonb_typeof(value) = 'string' AND (value #>> '{}') ILIKE '%%ld-99%%'"""
INSERT = """INSERT INTO engine_variable (key, tenant_id, process_instance_id, scope_key, name, value)
  SELECT 9 * 10^15 + %s + g, %s, %s, %s, 'w' || (%s + g), to_jsonb('customer-' || g || '-' || md5(g::text))
  FROM generate_series(1, 20000) g"""


def explain_ms(sql: str, params: list) -> tuple[float, str]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = cur.fetchone()[0]
    plan = plan[0] if isinstance(plan, list) else plan
    node = plan["Plan"]
    names = []
    while node:
        if "Index Name" in node:
            names.append(node["Index Name"])
        node = (node.get("Plans") or [None])[0]
    return plan["Planning Time"] + plan["Execution Time"], ", ".join(names) or "no index"


def main(n: int, per_instance: int) -> None:
    setup_django()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.utils import timezone
    from inspector_pages import seed

    from engine.store import definition_counts
    from flowsync.models import Membership

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    seeded = seed(n, per_instance)
    t = seeded["tenant"]
    olga = User.objects.create_user("olga", password="bench")
    Membership.objects.create(tenant=t, user=olga, role=Membership.Role.OPERATOR)
    client = Client()
    client.force_login(olga)
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    ms, index = explain_ms(OLD_COUNTS, [[t.pk]])
    print(f"old Definitions counts (every instance, per view): SQL {ms:.1f} ms ({index})")
    t0 = time.perf_counter()
    definition_counts.refresh(timezone.now(), force=True)
    print(f"periodic count (refresh, every {definition_counts.REFRESH_SECONDS} s, off the page views): "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms wall")
    for url in ("/inspector/definitions/", f"/inspector/definitions/{seeded['order'].key}/"):
        client.get(url)
        best = min(db_ms(client, url)[1] for _ in range(3))
        queries, _ = db_ms(client, url)
        print(f"{url}: {queries} queries, SQL {best:.1f} ms (best of 3)")

    ms, index = explain_ms(CONTAINS, [[t.pk]])
    print(f"tier contains 'ld-99' with the trigram index: SQL {ms:.1f} ms ({index})")
    with connection.cursor() as cur:
        cur.execute("SELECT pg_size_pretty(pg_relation_size('var_search_trgm_idx'))")
        size = cur.fetchone()[0]
        key = 10**9
        cur.execute("SELECT key FROM engine_processinstance WHERE state = 'ACTIVE' LIMIT 1")
        owner = cur.fetchone()[0]
        t0 = time.perf_counter()
        cur.execute(INSERT, [key, t.pk, owner, owner, key])
        with_index = time.perf_counter() - t0
        cur.execute("DROP INDEX var_search_trgm_idx")
        cur.execute("ANALYZE engine_variable")
        ms_without, index_without = explain_ms(CONTAINS, [[t.pk]])
        t0 = time.perf_counter()
        cur.execute(INSERT, [key + 10**6, t.pk, owner, owner, key + 10**6])
        without_index = time.perf_counter() - t0
        t0 = time.perf_counter()
        cur.execute("CREATE INDEX var_search_trgm_idx ON engine_variable USING gin ((value #>> '{}') gin_trgm_ops)"
                    " WHERE jsonb_typeof(value) = 'string'")
        build = time.perf_counter() - t0
    print(f"tier contains 'ld-99' without it: SQL {ms_without:.1f} ms ({index_without})")
    print(f"trigram index: {size} over {n * per_instance:,} variables, built in {build:.0f} s; "
          f"INSERT of 20,000 string variables: {with_index * 1000:.0f} ms with it, {without_index * 1000:.0f} ms "
          f"without ({(with_index - without_index) * 1000 / 20:.1f} ms more per 1,000 variables)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(args[0] if args else 1_000_000, args[1] if len(args) > 1 else 2)
