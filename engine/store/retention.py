"""History cleanup: delete finished process instances older than their tenant's retention, and every
row they own, in small batches.

The unit is a whole instance tree (a top-level instance and its call-activity children, which
share `root_instance_key`): a tree goes only when its root finished before the cutoff, no
instance in it is still active and none has a pending command. So a running instance, and a
finished child whose parent still runs, are never touched. Each batch is one short transaction
over at most `batch_size` trees, with the roots locked `SKIP LOCKED` (two workers cleaning at
once take different trees). Rows are deleted by the per-instance indexes every table has; no
table is rewritten and no lock is held long.

On PostgreSQL, commands and events are partitioned by time (engine/store/partitions.py): the
trees' rows there stay behind, invisible (no instance names them), until their whole partition is
dropped, which is instant. The cleanup also creates the partitions of the weeks ahead.

Tenant.history_retention_days: days to keep (0 = keep forever); ProcessRetention overrides it
for one process (the top-level instance's process decides for its whole tree). Run from the engine workers'
sweep (engine/runtime/worker.py) and by hand with `manage.py flowsync_cleanup`. With
Expired buffered messages go too, a day after they expired, whatever the retention. With
FLOWSYNC_RETENTION_EXPORT_DIR set, each tree is first appended to a JSON-lines archive there
(engine/store/archive.py).
"""

from __future__ import annotations

import datetime
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from engine.models import Command, Message, ProcessInstance, ProcessRetention, UserTaskCandidate
from engine.store import archive, partitions
from engine.store.archive import OWNED
from flowsync import metrics
from flowsync.models import Tenant

log = logging.getLogger("flowsync.retention")

FINISHED = (ProcessInstance.State.COMPLETED, ProcessInstance.State.TERMINATED)
BATCH_SIZE = 100
# Expired messages go a day after they expired: a command applied late still sees its clock's messages.
MESSAGE_GRACE = datetime.timedelta(days=1)


@dataclass
class Removed:
    """Rows deleted per table, and whether finished history past its cutoff is left for the next run."""

    rows: Counter = field(default_factory=Counter)
    more: bool = False

    @property
    def instances(self) -> int:
        return self.rows["process_instances"]


def cleanup(now: datetime.datetime, batch_size: int = BATCH_SIZE, seconds: float | None = None,
            tenant: Tenant | None = None) -> Removed:
    """Delete expired history, batch after batch, until none is left or `seconds` are spent."""
    removed = Removed()
    export_dir = getattr(settings, "FLOWSYNC_RETENTION_EXPORT_DIR", "")
    # Partitioned commands and events go by whole partitions (below), not row by row.
    skip = partitions.LOGS if partitions.enabled() else ()
    if skip:
        partitions.ensure(now)  # the weeks ahead exist before anything is written in them
    deadline = None if seconds is None else time.monotonic() + seconds
    for each, cutoff, which in _plan(now, tenant):
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                removed.more = True
                break
            taken, full = _batch(each, cutoff, batch_size, export_dir, which, skip)
            removed.rows.update(taken)
            if not full:
                break
    while not removed.more:
        if deadline is not None and time.monotonic() >= deadline:
            removed.more = True
            break
        gone = _expired_messages(now - MESSAGE_GRACE, batch_size * 10)
        if gone:
            removed.rows["messages"] += gone
        if gone < batch_size * 10:
            break
    latest = log_cutoff(now)
    if skip and tenant is None and not removed.more and latest is not None:
        removed.rows.update(partitions.drop_expired(now, latest))
    if removed.rows:
        add = {(table,): n for table, n in removed.rows.items()}
        metrics.add(metrics.cleanup_rows, add)
        log.info("history cleanup removed %d finished instances (%s)%s", removed.instances,
                 ", ".join(f"{table} {n}" for table, n in sorted(removed.rows.items()) if n),
                 "; more left for the next run" if removed.more else "")
    return removed


def log_cutoff(now: datetime.datetime) -> datetime.datetime | None:
    """The latest cutoff of any retention (the shortest one): log rows written after it belong to instances
    no retention can have deleted yet. None when everything is kept forever."""
    cutoffs = [cutoff for _, cutoff, _ in _plan(now, None)]
    return max(cutoffs) if cutoffs else None


def _plan(now: datetime.datetime, only: Tenant | None) -> list[tuple[Tenant, datetime.datetime, Q]]:
    """(tenant, cutoff, which root instances) to clean: the tenant's retention for its processes without
    an override, and each process's own (ProcessRetention) for those with one; 0 days = keep."""
    overrides: dict[int, dict[str, int]] = {}
    for row in ProcessRetention.objects.all():
        overrides.setdefault(row.tenant_id, {})[row.bpmn_process_id] = row.days
    tenants = Tenant.objects.filter(Q(history_retention_days__gt=0) | Q(pk__in=list(overrides)))
    if only is not None:
        tenants = tenants.filter(pk=only.pk)
    plan = []
    for tenant in tenants.order_by("pk"):
        own = overrides.get(tenant.pk, {})
        if tenant.history_retention_days > 0:
            rest = ~Q(definition__bpmn_process_id__in=sorted(own)) if own else Q()
            plan.append((tenant, now - datetime.timedelta(days=tenant.history_retention_days), rest))
        for process_id, days in sorted(own.items()):
            if days > 0:
                plan.append((tenant, now - datetime.timedelta(days=days), Q(definition__bpmn_process_id=process_id)))
    return plan


def _batch(tenant: Tenant, cutoff: datetime.datetime, batch_size: int, export_dir: str = "",
           which: Q | None = None, skip: tuple[str, ...] = ()) -> tuple[Counter, bool]:
    """One transaction: up to batch_size expired trees of one tenant. Returns (rows removed, batch was full)."""
    with transaction.atomic():
        roots = list(
            # of=self: the join with the definition (a process override) must not lock definitions.
            ProcessInstance.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(which or Q())
            .filter(tenant=tenant, parent_instance_key__isnull=True, state__in=FINISHED, end_date__lt=cutoff)
            .order_by("end_date", "key")
            .values_list("key", flat=True)[:batch_size]
        )
        if not roots:
            return Counter(), False
        children = list(
            ProcessInstance.objects.select_for_update(skip_locked=True)
            .filter(root_instance_key__in=roots, parent_instance_key__isnull=False)
            .values_list("key", "root_instance_key", "state")
        )
        keys = set(roots) | {key for key, _, _ in children}
        # A tree with anything still running or waiting to be applied stays, whole.
        keep = {root for _, root, state in children if state == ProcessInstance.State.ACTIVE}
        pending = set(
            Command.objects.filter(state=Command.State.PENDING, process_instance_key__in=keys)
            .values_list("process_instance_key", flat=True)
        )
        if pending:
            root_of = {key: root for key, root, _ in children} | {root: root for root in roots}
            keep |= {root_of[key] for key in pending}
        if keep:
            keys = {key for key in keys if key not in keep} - {key for key, root, _ in children if root in keep}
        doomed = sorted(keys)
        rows = Counter()
        if doomed:
            if export_dir:
                # Written and flushed to disk before the rows go: a failed write keeps them.
                archive.export(export_dir, tenant, doomed)
            rows["user_task_candidates"] = _delete(UserTaskCandidate.objects.filter(
                task__process_instance_key__in=doomed))
            for table, model, field_name in OWNED:
                if table in skip:
                    continue
                rows[table] = _delete(model.objects.filter(**{f"{field_name}__in": doomed}))
            rows["process_instances"] = _delete(ProcessInstance.objects.filter(key__in=doomed))
        # A batch of kept trees only is not "full": retrying it at once would find the same trees.
        return rows, len(roots) == batch_size and bool(doomed)


def _expired_messages(before: datetime.datetime, limit: int) -> int:
    """Delete messages whose time to live ran out before `before` (nothing reads them again)."""
    with transaction.atomic():
        keys = list(Message.objects.filter(expires_at__lt=before).order_by("expires_at")
                    .values_list("key", flat=True)[:limit])
        return _delete(Message.objects.filter(key__in=keys)) if keys else 0


def _delete(queryset) -> int:  # type: ignore[no-untyped-def]
    # One DELETE … WHERE: no model here has delete signals, and related rows are gone already.
    return queryset._raw_delete(queryset.db)
