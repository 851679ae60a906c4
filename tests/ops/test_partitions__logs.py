"""Commands and events are partitioned by time on PostgreSQL: rows land in the partition of the week
they were written, the weeks ahead are created by the cleanup run, a settled partition goes whole once
no instance it names exists (and never while one does), and the engine's hot queries still use their
indexes (EXPLAIN)."""

from __future__ import annotations

import datetime
import io
import json

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from engine.models import Command, Event, ProcessInstance
from engine.queries import engine_dashboard
from engine.runtime.loop import CLAIM
from engine.store import partitions, retention
from tests.engine.conformance.harness import Engine
from tests.ops.test_retention__cleanup import OLD, Scenario, rows_of

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]  # SQLite keeps plain tables


@pytest.fixture(autouse=True)
def _fresh_recheck_memo() -> None:
    partitions._recheck_at.clear()


def partition_of(table: str, where: str, params: list) -> set[str]:
    with connection.cursor() as cur:
        cur.execute(f"SELECT DISTINCT tableoid::regclass::text FROM {table} WHERE {where}", params)
        return {row[0] for row in cur.fetchall()}


def move_back(keys: list[int], age: datetime.timedelta) -> None:
    """As if these instances' commands and events had been written `age` ago (row movement between partitions)."""
    with connection.cursor() as cur:
        for table in partitions.TABLES:
            cur.execute(f"UPDATE {table} SET logged_at = logged_at - %s WHERE process_instance_key = ANY(%s)",
                        [age, keys])
        # The test runs in one transaction: check the deferred foreign keys now, as a commit would, or
        # PostgreSQL refuses to drop a table with trigger events pending.
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_the_logs_are_partitioned_and_rows_land_in_this_weeks_partition(creds):
    assert partitions.enabled()
    now = timezone.now()
    partitions.ensure(now)
    names = [p.name for p in partitions.partitions("engine_command")]
    week = partitions.interval_start(now)
    assert f"engine_command_p{week:%Y%m%d}" in names
    assert f"engine_command_p{week + datetime.timedelta(days=28):%Y%m%d}" in names  # four weeks ahead
    assert names[-1] == "engine_command_default"
    assert partitions.ensure(now) == []  # idempotent

    key = Scenario(Engine(creds.tenant)).at_after()
    assert partition_of("engine_command", "process_instance_key = %s", [key]) == {f"engine_command_p{week:%Y%m%d}"}
    assert partition_of("engine_event", "process_instance_key = %s", [key]) == {f"engine_event_p{week:%Y%m%d}"}
    # A command's own clock (created_at, e.g. a timer's due time long ago) does not decide its partition.
    cmd = Command.objects.filter(process_instance_key=key).first()
    Command.objects.filter(pk=cmd.pk).update(created_at=now - datetime.timedelta(days=400))
    assert partition_of("engine_command", "id = %s", [cmd.pk]) == {f"engine_command_p{week:%Y%m%d}"}


def test_rows_no_partition_covers_wait_in_the_default_one_and_move_when_it_is_created(creds):
    now = timezone.now()
    partitions.ensure(now)
    later = now + datetime.timedelta(days=120)
    with connection.cursor() as cur:
        cur.execute("INSERT INTO engine_event (tenant_id, process_instance_key, command_kind, created_at, records,"
                    " logged_at) VALUES (%s, 1, 'X', %s, '[]', %s) RETURNING id", [creds.tenant.pk, now, later])
        (event_id,) = cur.fetchone()
    assert partition_of("engine_event", "id = %s", [event_id]) == {"engine_event_default"}
    made = partitions.ensure(later)
    week = partitions.interval_start(later)
    assert f"engine_event_p{week:%Y%m%d}" in made
    assert partition_of("engine_event", "id = %s", [event_id]) == {f"engine_event_p{week:%Y%m%d}"}
    assert Event.objects.filter(pk=event_id).count() == 1  # moved, not copied or lost


def test_a_busy_parent_is_left_for_the_next_run_instead_of_queueing_its_writers_behind_us(creds):
    """An engine batch holds the parent's lock (it writes commands): creating a partition gives up after a
    short lock timeout, holding nothing the batch could wait for, and the next run creates it."""
    later = timezone.now() + datetime.timedelta(days=200)
    week = partitions.interval_start(later)
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")},
                         autocommit=False) as batch:
        batch.execute("LOCK TABLE engine_command IN ROW EXCLUSIVE MODE")
        made = partitions.ensure(later)
        assert f"engine_event_p{week:%Y%m%d}" in made
        assert not [name for name in made if name.startswith("engine_command")]
        batch.rollback()
    assert f"engine_command_p{week:%Y%m%d}" in partitions.ensure(later)


def test_cleanup_drops_a_settled_partition_once_no_instance_it_names_is_left(creds, settings):
    settings.FLOWSYNC_METRICS_PUBLIC = True
    now = timezone.now()
    s = Scenario(Engine(creds.tenant))
    partitions.ensure(now - OLD)  # the weeks around two months ago
    partitions.ensure(now - datetime.timedelta(days=40))
    expired = [k for root in (s.finished(OLD), s.finished(OLD)) for k in s.tree(root)]
    move_back(expired, OLD)
    running = s.at_after()  # still running: its log rows, written 40 days ago, keep their partition
    move_back(s.tree(running), datetime.timedelta(days=40))
    old_week = f"engine_command_p{partitions.interval_start(now - OLD):%Y%m%d}"
    busy_week = f"engine_command_p{partitions.interval_start(now - datetime.timedelta(days=40)):%Y%m%d}"
    assert partition_of("engine_command", "process_instance_key = ANY(%s)", [expired]) == {old_week}
    logs = rows_of(expired)

    removed = retention.cleanup(now)

    assert removed.instances == 4
    assert removed.rows["commands"] == logs["commands"] > 0
    assert removed.rows["events"] == logs["events"] > 0
    names = {p.name for p in partitions.partitions("engine_command")}
    assert old_week not in names  # dropped whole
    assert busy_week in names  # a running instance's early commands stay
    assert rows_of(expired)["commands"] == 0 and rows_of(expired)["events"] == 0
    assert Command.objects.filter(process_instance_key=running).exists()
    assert ProcessInstance.objects.get(key=running).state == "ACTIVE"


def test_a_partition_with_a_pending_command_stays(creds):
    now = timezone.now()
    s = Scenario(Engine(creds.tenant))
    partitions.ensure(now - OLD)
    root = s.finished(OLD)
    tree = s.tree(root)
    move_back(tree, OLD)
    ProcessInstance.objects.filter(key__in=tree).delete()  # as if cleaned, but one command still pending
    Command.objects.filter(process_instance_key=root).update(state=Command.State.PENDING)
    assert retention.cleanup(now).rows.get("commands", 0) == 0
    Command.objects.filter(process_instance_key=root).update(state=Command.State.REJECTED)
    # A partition found needed is not read again by this process for an hour (a scan per run otherwise).
    assert retention.cleanup(now).rows.get("commands", 0) == 0
    partitions._recheck_at.clear()
    assert retention.cleanup(now).rows["commands"] > 0


def test_flowsync_partitions_lists_creates_and_drops(creds):
    out = io.StringIO()
    call_command("flowsync_partitions", "--drop", stdout=out)
    text = out.getvalue()
    assert "engine_command_default" in text and "engine_event_p" in text


def plan(sql: str, params: list) -> dict:
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        raw = cur.fetchone()[0]
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


def scans(node: dict) -> list[tuple[str, str, str]]:
    """(node type, relation, index) of every scan in a plan."""
    found = []
    if "Relation Name" in node:
        found.append((node["Node Type"], node["Relation Name"], node.get("Index Name", "")))
    for child in node.get("Plans", []):
        found.extend(scans(child))
    return found


def parent_index(name: str) -> str:
    """The partitioned table's index a partition's index belongs to (partitions name theirs themselves)."""
    with connection.cursor() as cur:
        cur.execute("SELECT p.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "JOIN pg_class p ON p.oid = i.inhparent WHERE c.relname = %s", [name])
        row = cur.fetchone()
    return row[0] if row else name


def test_the_engines_hot_queries_use_indexes_on_every_partition(creds):
    now = timezone.now()
    partitions.ensure(now - OLD)
    partitions.ensure(now)
    tenant = creds.tenant.pk
    with connection.cursor() as cur:
        # 20,000 processed commands and events in an old week and in this one, a few pending.
        for age in (OLD, datetime.timedelta(0)):
            cur.execute(
                "INSERT INTO engine_command (tenant_id, process_instance_key, kind, payload, state, actor, created_at,"
                " keys, error, logged_at) SELECT %s, g, 'CREATE_INSTANCE', '{}', CASE WHEN g %% 5000 = 0 THEN"
                " 'PENDING' ELSE 'PROCESSED' END, '', now(), '[]', '', now() - %s FROM generate_series(1, 20000) g",
                [tenant, age])
            cur.execute(
                "INSERT INTO engine_event (tenant_id, process_instance_key, command_id, command_kind, created_at,"
                " records, logged_at) SELECT %s, g, g, 'X', now(), '[]', now() - %s FROM generate_series(1, 20000) g",
                [tenant, age])
        cur.execute("ANALYZE engine_command")
        cur.execute("ANALYZE engine_event")
    filled = {table: {f"{table}_p{partitions.interval_start(now - age):%Y%m%d}" for age in (OLD, datetime.timedelta(0))}
              for table in partitions.TABLES}
    queries = [
        # the engine loop's claim (engine/runtime/loop.py CLAIM) and its per-instance command read
        (f"SELECT key FROM engine_processinstance WHERE {CLAIM.replace('FOR UPDATE SKIP LOCKED', '')}",
         [400, 100], "engine_command", "cmd_pending_idx"),
        ("SELECT id FROM engine_command WHERE state = 'PENDING' AND process_instance_key = ANY(%s::bigint[]) "
         "ORDER BY id", [[5000, 10000]], "engine_command", "cmd_pending_"),  # either partial index of pending rows
        # the flush's UPDATE of applied commands, by id
        ("UPDATE engine_command SET state = 'PROCESSED' WHERE id = %s", [12345], "engine_command", "pkey"),
        # an instance's timeline (Inspector, replay)
        ("SELECT id FROM engine_event WHERE process_instance_key = %s ORDER BY id", [777], "engine_event",
         "event_instance_idx"),
        ("SELECT id FROM engine_command WHERE process_instance_key = %s ORDER BY id", [777], "engine_command",
         "cmd_instance_idx"),
    ]
    for sql, params, table, index in queries:
        # Empty partitions may be read any way (an empty table costs nothing): the two filled ones matter.
        found = [s for s in scans(plan(sql, params)) if s[1] in filled[table]]
        assert len(found) == 2, (sql, found)
        for node_type, relation, index_name in found:
            assert node_type in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), (sql, relation, node_type)
            if node_type != "Bitmap Heap Scan":
                assert index in parent_index(index_name), (sql, relation, index_name)


def test_the_engine_dashboards_command_figures_read_the_windows_rows_by_index(creds):
    """The Inspector's engine dashboard refreshes every few seconds: its per-minute command figures must
    read the last hour's rows by an index range, not the whole current partition (engine_dashboard.py)."""
    now = timezone.now()
    partitions.ensure(now - datetime.timedelta(hours=3))
    partitions.ensure(now)
    with connection.cursor() as cur:
        # 20,000 commands applied three hours ago, then 300 in the last minutes: the same partition (or two).
        for count, age in ((20000, datetime.timedelta(hours=3)), (300, datetime.timedelta(minutes=2))):
            cur.execute(
                "INSERT INTO engine_command (tenant_id, process_instance_key, kind, payload, state, actor, created_at,"
                " processed_at, keys, error, logged_at) SELECT %s, g, 'CREATE_INSTANCE', '{}', 'PROCESSED', '',"
                " now() - %s, now() - %s + interval '5 ms', '[]', '', now() - %s FROM generate_series(1, %s) g",
                [creds.tenant.pk, age, age, age, count])
        since = now - datetime.timedelta(minutes=59)
        # A long transaction's row: logged (its start) just before the window, committed last (the highest id).
        # It must not become the window's first id, or the 300 rows before it would be left out.
        cur.execute(
            "INSERT INTO engine_command (tenant_id, process_instance_key, kind, payload, state, actor, created_at,"
            " keys, error, logged_at) VALUES (%s, 1, 'CREATE_INSTANCE', '{}', 'PENDING', '', %s, '[]', '', %s)",
            [creds.tenant.pk, since - datetime.timedelta(minutes=1), since - datetime.timedelta(minutes=1)])
        cur.execute("ANALYZE engine_command")
        params = {"since": since, "tenants": [creds.tenant.pk]}
        cur.execute("EXPLAIN (FORMAT JSON) " + engine_dashboard.COMMANDS_PER_MINUTE, params)
        raw = cur.fetchone()[0]
    found = scans((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"])
    filled = {f"engine_command_p{partitions.interval_start(now - age):%Y%m%d}"
              for age in (datetime.timedelta(hours=3), datetime.timedelta(0))}
    on_filled = [s for s in found if s[1] in filled]
    assert on_filled and all(kind in ("Index Scan", "Index Only Scan", "Index Scan Backward",
                                      "Index Only Scan Backward") for kind, _, _ in on_filled), found
    assert all(parent_index(index).endswith("pkey") for _, _, index in on_filled), found
    minutes = engine_dashboard.per_minute([creds.tenant.pk], since.replace(second=0, microsecond=0), 60)
    assert sum(m.commands for m in minutes) == 300
    p50 = [m.apply_p50 for m in minutes if m.apply_p50 is not None]
    assert p50 and all(abs(p - 0.005) < 1e-6 for p in p50)
