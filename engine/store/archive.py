"""Exporting instance trees before history cleanup deletes them: one JSON object per tree, one line
each, appended to `<dir>/<tenant>/<UTC date of the export>.jsonl`, or with an `s3://bucket/prefix`
target put as one object per cleanup batch, `<prefix>/<tenant>/<date>/<time>-<random>.jsonl`, in an
S3-compatible bucket (boto3; endpoint and credentials from the standard AWS settings).

A line holds every row the cleanup is about to delete (instances, element instances, variables,
jobs, incidents, user tasks, timers, subscriptions, commands, events) as column → value. The file
is flushed and fsync'ed before the delete commits; a run that rolls back after writing leaves its
lines, so an archive may hold a tree twice (at least once, never lost) — deduplicate by
`rootInstanceKey`.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import re
import uuid
from pathlib import Path

import boto3
from django.core.serializers.json import DjangoJSONEncoder

from engine.models import (
    Command,
    DecisionInstance,
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
    ("decision_instances", DecisionInstance, "process_instance_key"),
    ("timers", Timer, "process_instance_key"),
    ("message_subscriptions", MessageSubscription, "process_instance_key"),
    ("signal_subscriptions", SignalSubscription, "process_instance_key"),
    ("events", Event, "process_instance_key"),
    ("commands", Command, "process_instance_key"),
    ("variables", Variable, "process_instance_id"),
    ("element_instances", ElementInstance, "process_instance_id"),
    ("step_logs", StepLog, "process_instance_key"),  # a flow step's connector logs
)


def export(target: str, tenant: Tenant, keys: list[int]) -> str:
    """Write one line per instance tree among these instances (whole trees only) to a directory, or to an
    S3-compatible bucket when `target` is `s3://bucket/prefix`; returns where."""
    lines = _lines(tenant, keys)
    folder = re.sub(r"[^\w.-]", "_", tenant.tenant_id)
    day = datetime.datetime.now(tz=datetime.UTC).date().isoformat()
    if target.startswith("s3://"):
        return _put(target, folder, day, lines)
    path = Path(target) / folder
    path.mkdir(parents=True, exist_ok=True)
    path = path / f"{day}.jsonl"
    with path.open("a", encoding="utf-8") as out:
        out.writelines(lines)
        out.flush()
        os.fsync(out.fileno())
    return str(path)


def _lines(tenant: Tenant, keys: list[int]) -> list[str]:
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
    return [json.dumps(trees[root], cls=DjangoJSONEncoder, separators=(",", ":")) + "\n" for root in sorted(trees)]


def _put(target: str, folder: str, day: str, lines: list[str]) -> str:
    """One object per batch (objects cannot be appended to): <prefix>/<tenant>/<day>/<time>-<random>.jsonl.
    The upload has finished (S3 acknowledges a PUT once stored) before the delete commits."""
    bucket, _, prefix = target.removeprefix("s3://").partition("/")
    stamp = datetime.datetime.now(tz=datetime.UTC).strftime("%H%M%S%f")
    key = "/".join(p for p in (prefix.strip("/"), folder, day, f"{stamp}-{uuid.uuid4().hex[:8]}.jsonl") if p)
    _s3().put_object(Bucket=bucket, Key=key, Body="".join(lines).encode(), ContentType="application/x-ndjson")
    return f"s3://{bucket}/{key}"


@functools.cache
def _s3():  # type: ignore[no-untyped-def]
    # Endpoint, region and credentials from the standard AWS settings (AWS_ENDPOINT_URL for MinIO, Ceph, …).
    return boto3.client("s3")
