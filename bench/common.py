"""Shared set-up for benchmarks: a dedicated PostgreSQL database, migrated, with one tenant."""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flowsync_bench")


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = BENCH_DB
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ["FLOWSYNC_ENGINE_INLINE"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "flowsync.settings"
    # A throwaway key per run (settings refuse a known one); the servers it starts inherit it.
    os.environ.setdefault("FLOWSYNC_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("FLOWSYNC_LOG_LEVEL", "WARNING")
    dbname = BENCH_DB.rsplit("/", 1)[1]
    admin = BENCH_DB.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"], check=True)
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {dbname}"], check=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def tenant():  # type: ignore[no-untyped-def]
    from flowsync.models import Tenant

    return Tenant.objects.get_or_create(tenant_id="<default>", defaults={"name": "bench"})[0]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 50) * 1000:.1f} ms, p99 {percentile(values, 99) * 1000:.1f} ms, "
        f"mean {statistics.fmean(values) * 1000:.1f} ms"
    )


def db_ms(client, url: str) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    """Queries of one request and PostgreSQL's own execution time of them (EXPLAIN ANALYZE), in ms: with the
    machine shared, Python CPU + this is what the page costs without waiting for a core."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    total = 0.0
    with connection.cursor() as cur:
        for query in ctx.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            plan = cur.fetchone()[0]
            plan = plan[0] if isinstance(plan, list) else plan
            total += plan["Execution Time"] + plan["Planning Time"]
    return len(ctx.captured_queries), total
