"""History cleanup removes exactly the expired finished instance trees, with every row they own, and
nothing of a running instance, a finished child of a running parent, a recent instance, an instance
with a pending command, or a tenant that keeps its history."""

from __future__ import annotations

import datetime
import io
import json
import logging
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from engine.actions.instances import cancel_instance, start_instance
from engine.actions.messages import publish_message
from engine.definitions.deploy import Resource, deploy
from engine.models import (
    Command,
    ElementInstance,
    Event,
    Incident,
    Job,
    Message,
    MessageSubscription,
    ProcessInstance,
    ProcessRetention,
    SignalSubscription,
    Timer,
    UserTask,
    UserTaskCandidate,
    Variable,
)
from engine.runtime.loop import drain
from engine.store import partitions, retention
from engine.store.commands import submit
from tests.conftest import make_tenant, wait_for
from tests.engine.conformance.harness import Engine
from tests.ops.test_metrics__exposition import sample

pytestmark = pytest.mark.django_db
BPMN = Path(__file__).resolve().parent / "bpmn"
OLD = datetime.timedelta(days=60)


def rows_of(keys: list[int]) -> dict[str, int]:
    """Every row that belongs to these instances, per table."""
    by_key = {"process_instances": ProcessInstance.objects.filter(key__in=keys),
              "element_instances": ElementInstance.objects.filter(process_instance_id__in=keys),
              "variables": Variable.objects.filter(process_instance_id__in=keys),
              "user_task_candidates": UserTaskCandidate.objects.filter(task__process_instance_key__in=keys)}
    for table, model in (("user_tasks", UserTask), ("jobs", Job), ("incidents", Incident), ("timers", Timer),
                         ("message_subscriptions", MessageSubscription), ("signal_subscriptions", SignalSubscription),
                         ("events", Event), ("commands", Command)):
        by_key[table] = model.objects.filter(process_instance_key__in=keys)
    return {table: qs.count() for table, qs in by_key.items()}


class Scenario:
    def __init__(self, engine: Engine):
        self.engine = engine
        resources = [Resource(p.name, p.read_bytes()) for p in sorted(BPMN.glob("retention-*.bpmn"))]
        deploy(engine.tenant, resources, engine.now())

    def tree(self, root: int) -> list[int]:
        return [root, *ProcessInstance.objects.filter(root_instance_key=root).exclude(key=root)
                .values_list("key", flat=True)]

    def at_after(self) -> int:
        """Parent waiting at its service task (timer armed); its child finished."""
        key = self.engine.start("retention-parent", order={"id": "A-1"})
        assert self.engine.complete_jobs("child-work")
        return key

    def finished(self, age: datetime.timedelta) -> int:
        """Parent and child finished `age` ago: the child completed, the parent cancelled at its user task."""
        key = self.at_after()
        assert self.engine.complete_jobs("after")
        cancel_instance(self.engine.tenant, key, "test", self.engine.now())
        drain()
        assert ProcessInstance.objects.get(key=key).state == "TERMINATED"
        self.age(self.tree(key), age)
        return key

    def age(self, keys: list[int], age: datetime.timedelta) -> None:
        for pi in ProcessInstance.objects.filter(key__in=keys):
            assert pi.state != "ACTIVE"
            ProcessInstance.objects.filter(key=pi.key).update(end_date=pi.end_date - age,
                                                              start_date=pi.start_date - age)


def test_cleanup_removes_exactly_the_expired_finished_trees(creds, settings, caplog):
    settings.FLOWSYNC_METRICS_PUBLIC = True
    tenant = creds.tenant
    assert tenant.history_retention_days == 30  # the default
    s = Scenario(Engine(tenant))
    expired = [s.finished(OLD), s.finished(OLD)]
    expired_keys = [k for root in expired for k in s.tree(root)]
    assert len(expired_keys) == 4  # two parents, two children

    running = s.at_after()
    finished_child = s.tree(running)[1]
    s.age([finished_child], OLD)  # a finished child of a running parent, long ago
    recent = s.finished(datetime.timedelta(days=29))
    keeper = make_tenant("keeps-all")
    keeper.tenant.history_retention_days = 0
    keeper.tenant.save()
    kept_tenant = Scenario(Engine(keeper.tenant)).finished(OLD * 10)
    waiting = s.finished(OLD)
    submit(tenant, waiting, Command.Kind.SET_VARIABLES, {"variables": {"late": 1}}, "test", timezone.now())
    kept = [k for root in (running, recent, waiting, kept_tenant) for k in s.tree(root)]

    doomed = rows_of(expired_keys)
    # (A closed task's candidate rows go when it closes, so finished instances have none left.)
    for table in ("element_instances", "variables", "jobs", "timers", "user_tasks", "events", "commands"):
        assert doomed[table] > 0, (table, doomed)  # the scenario really covers every kind of row
    kept_before = rows_of(kept)
    others_before = rows_of(list(ProcessInstance.objects.exclude(key__in=expired_keys).values_list("key", flat=True)))
    metric_before = sample(Client().get("/metrics").content.decode(), "flowsync_retention_removed_rows_total",
                           table="variables")

    with caplog.at_level(logging.INFO, logger="flowsync.retention"):
        removed = retention.cleanup(timezone.now(), batch_size=1)  # one tree per transaction

    # On PostgreSQL commands and events are partitioned by time: they stay (no instance names them any
    # more) until their whole partition is dropped (tests/ops/test_partitions__logs.py). SQLite deletes them.
    logs = set(partitions.LOGS) if partitions.enabled() else set()
    assert bool(logs) == (connection.vendor == "postgresql")
    assert {t: n for t, n in removed.rows.items() if n} == {t: n for t, n in doomed.items() if n and t not in logs}
    assert removed.more is False
    assert rows_of(expired_keys) == {t: (n if t in logs else 0) for t, n in doomed.items()}
    assert rows_of(kept) == kept_before
    assert rows_of(list(ProcessInstance.objects.values_list("key", flat=True))) == others_before
    assert ProcessInstance.objects.get(key=running).state == "ACTIVE"
    assert ProcessInstance.objects.filter(key=finished_child).exists()
    assert any("history cleanup removed 4 finished instances" in r.getMessage() for r in caplog.records)
    metric_after = sample(Client().get("/metrics").content.decode(), "flowsync_retention_removed_rows_total",
                          table="variables")
    assert metric_after - metric_before == doomed["variables"]

    assert retention.cleanup(timezone.now()).rows == {}  # nothing left to do


def test_the_kept_tree_goes_once_its_pending_command_is_applied(creds):
    s = Scenario(Engine(creds.tenant))
    waiting = s.finished(OLD)
    submit(creds.tenant, waiting, Command.Kind.SET_VARIABLES, {"variables": {"late": 1}}, "test", timezone.now())
    assert retention.cleanup(timezone.now()).instances == 0
    drain()  # rejected (the instance ended), no longer pending
    assert retention.cleanup(timezone.now()).instances == 2


def test_a_time_budget_stops_between_batches_and_says_more_is_left(creds):
    s = Scenario(Engine(creds.tenant))
    for _ in range(3):
        s.finished(OLD)
    first = retention.cleanup(timezone.now(), batch_size=1, seconds=0)
    assert first.instances == 0 and first.more is True
    assert retention.cleanup(timezone.now(), batch_size=1).instances == 6


def test_flowsync_cleanup_command_runs_it_by_hand(creds):
    s = Scenario(Engine(creds.tenant))
    root = s.finished(OLD)
    out = io.StringIO()
    call_command("flowsync_cleanup", "--tenant", creds.tenant.tenant_id, stdout=out)
    assert "removed 2 finished process instances" in out.getvalue()
    assert not ProcessInstance.objects.filter(key=root).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_engine_workers_clean_up_on_their_sweep_schedule(creds, start_worker):
    s = Scenario(Engine(creds.tenant))
    root = s.finished(OLD)
    recent = s.finished(datetime.timedelta(days=1))
    start_worker(FLOWSYNC_RETENTION_INTERVAL_SECONDS="0.5")
    wait_for(lambda: not ProcessInstance.objects.filter(key=root).exists())
    assert ProcessInstance.objects.filter(key=recent).exists()


def test_with_an_export_directory_each_tree_is_archived_before_it_goes(creds, settings, tmp_path):
    settings.FLOWSYNC_RETENTION_EXPORT_DIR = str(tmp_path)
    s = Scenario(Engine(creds.tenant))
    root = s.finished(OLD)
    keys = s.tree(root)
    expected = rows_of(keys)
    assert retention.cleanup(timezone.now()).instances == 2
    (path,) = (tmp_path / "_default_").glob("*.jsonl")
    (line,) = [json.loads(x) for x in path.read_text().splitlines()]
    assert line["rootInstanceKey"] == str(root) and line["tenantId"] == "<default>"
    assert sorted(pi["key"] for pi in line["processInstances"]) == sorted(keys)
    for table, n in expected.items():
        if table not in ("process_instances", "user_task_candidates"):
            assert len(line.get(table, [])) == n, table
    assert {v["name"]: v["value"] for v in line["variables"]}["order"] == {"id": "A-1"}


def test_a_failed_export_deletes_nothing(creds, settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.FLOWSYNC_RETENTION_EXPORT_DIR = str(blocker)
    s = Scenario(Engine(creds.tenant))
    root = s.finished(OLD)
    with pytest.raises(OSError):
        retention.cleanup(timezone.now())
    assert ProcessInstance.objects.filter(key=root).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_worker_whose_export_fails_keeps_applying_commands(creds, start_worker, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    s = Scenario(Engine(creds.tenant))
    root = s.finished(OLD)
    worker = start_worker(FLOWSYNC_RETENTION_INTERVAL_SECONDS="0.2", FLOWSYNC_RETENTION_EXPORT_DIR=str(blocker))
    definition = ProcessInstance.objects.get(key=root).definition
    fresh = start_instance(creds.tenant, definition, {}, "test", timezone.now()).key
    # The engine still runs: the new instance's command is applied (and its child started).
    wait_for(lambda: ProcessInstance.objects.filter(parent_instance_key=fresh).exists())
    assert ProcessInstance.objects.filter(key=root).exists()  # nothing deleted without its archive
    assert "history cleanup failed" in worker.output()


def test_a_process_override_beats_the_tenant_retention(creds):
    s = Scenario(Engine(creds.tenant))
    kept_by_override = s.finished(OLD)  # 60 days: past the tenant's 30, within the process's 90
    gone = s.finished(datetime.timedelta(days=100))
    ProcessRetention.objects.create(tenant=creds.tenant, bpmn_process_id="retention-parent", days=90)
    assert retention.cleanup(timezone.now()).instances == 2
    assert ProcessInstance.objects.filter(key=kept_by_override).exists()
    assert not ProcessInstance.objects.filter(key=gone).exists()
    ProcessRetention.objects.filter(tenant=creds.tenant).update(days=0)  # keep this process forever
    ProcessInstance.objects.filter(key__in=s.tree(kept_by_override)).update(end_date=timezone.now() - OLD * 10)
    assert retention.cleanup(timezone.now()).instances == 0


def test_a_process_override_applies_where_the_tenant_keeps_everything(creds):
    creds.tenant.history_retention_days = 0
    creds.tenant.save()
    s = Scenario(Engine(creds.tenant))
    root = s.finished(OLD)
    assert retention.cleanup(timezone.now()).instances == 0
    ProcessRetention.objects.create(tenant=creds.tenant, bpmn_process_id="retention-parent", days=10)
    assert retention.cleanup(timezone.now()).instances == 2
    assert not ProcessInstance.objects.filter(key=root).exists()


def test_expired_messages_go_a_day_after_they_expired(creds):
    now = timezone.now()
    old = publish_message(creds.tenant, "paid", "A-1", 1000, "", {}, "test", now - datetime.timedelta(days=2))
    recent = publish_message(creds.tenant, "paid", "A-2", 0, "", {}, "test", now - datetime.timedelta(hours=1))
    buffered = publish_message(creds.tenant, "paid", "A-3", 10 * 86_400_000, "", {}, "test",
                               now - datetime.timedelta(days=5))
    removed = retention.cleanup(now)
    assert removed.rows == {"messages": 1}
    assert set(Message.objects.values_list("key", flat=True)) == {recent, buffered}
    assert not Message.objects.filter(key=old).exists()
