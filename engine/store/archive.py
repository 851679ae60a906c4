"""Exporting instance trees before history cleanup deletes them: one JSON object per tree, one line
each, appended to `<dir>/<tenant>/<UTC date of the export>.jsonl`.

A line holds every row the cleanup is about to delete (instances, element instances, variables,
jobs, incidents, user tasks, timers, subscriptions, commands, events) as column → value. The file
is flushed and fsync'ed before the delete commits; a run that rolls back after writing leaves its
lines, so an archive may hold a tree twice (at least once, never lost) — deduplicate by
`rootInstanceKey`.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from pathlib import Path

from django.core.serializers.json import DjangoJSONEncoder

from engine.models import (
    Command,
    ElementInstance,
    Event,
    Incident,
    Job,
    MessageSubscription,
    ProcessInstance,
    SignalSubscription,
    StepLog,
    Timer,
    UserTask,
    Variable,
)
from flowsync.models import Tenant

# The tables whose rows belong to an instance, and the column naming it (candidates go with their tasks).
OWNED = (
    ("user_tasks", UserTask, "process_instance_key"),
    ("jobs", Job, "process_instance_key"),
    ("incidents", Incident, "process_instance_key"),
    ("timers", Timer, "process_instance_key"),
    ("message_subscriptions", MessageSubscription, "process_instance_key"),
    ("signal_subscriptions", SignalSubscription, "process_instance_key"),
    ("events", Event, "process_instance_key"),
    ("commands", Command, "process_instance_key"),
    ("variables", Variable, "process_instance_id"),
    ("element_instances", ElementInstance, "process_instance_id"),
    ("step_logs", StepLog, "process_instance_key"),  # a flow step's connector logs
)


def export(directory: Path, tenant: Tenant, keys: list[int]) -> Path:
    """Append one line per instance tree among these instances (whole trees only); returns the file."""
    instances = list(ProcessInstance.objects.filter(key__in=keys).order_by("key").values())
    root_of = {pi["key"]: pi["root_instance_key"] for pi in instances}
    trees: dict[int, dict] = {}
    for pi in instances:
        tree = trees.setdefault(pi["root_instance_key"], {"rootInstanceKey": str(pi["root_instance_key"]),
                                                          "tenantId": tenant.tenant_id, "processInstances": []})
        tree["processInstances"].append(pi)
    for table, model, field_name in OWNED:
        for row in model.objects.filter(**{f"{field_name}__in": keys}).order_by("pk").values():
            trees[root_of[row[field_name]]].setdefault(table, []).append(row)
    folder = directory / re.sub(r"[^\w.-]", "_", tenant.tenant_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{datetime.datetime.now(tz=datetime.UTC).date().isoformat()}.jsonl"
    with path.open("a", encoding="utf-8") as out:
        for root in sorted(trees):
            out.write(json.dumps(trees[root], cls=DjangoJSONEncoder, separators=(",", ":")) + "\n")
        out.flush()
        os.fsync(out.fileno())
    return path
