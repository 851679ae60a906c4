"""The engine's own JSON path (engine/store/sql.py dump_json and load_json): what it writes
and reads back is what json and Django's JSONField give, for a small batch (one statement) and a large one (COPY).

orjson refuses integers beyond 64 bits and reads them as floats: those go through json both ways.
"""

from __future__ import annotations

import json
from datetime import UTC

import pytest
from django.utils import timezone

from engine.actions.instances import start_instance
from engine.actions.jobs import activate_jobs, complete_job
from engine.definitions.deploy import Resource, deploy
from engine.models import ProcessInstance, Variable
from engine.runtime.loop import drain
from engine.store import sql
from engine.store.flush import SMALL_UPDATE
from engine.store.sql import dump_json, load_json
from tests.conftest import bpmn_file

VALUES = {
    "big": 2**70,
    "negativeBig": -(2**65),
    "nineteenDigits": 9_223_372_036_854_775_807,
    "longDecimal": 0.1,
    "exponent": 1e16,
    "text": "café € 😀 \u2028 \\ \" \t\n",
    "nested": {"list": [1, 2.5, None, True, "x"], "deep": {"b": 2**64, "a": -1}},
    "empty": {},
    "none": None,
    "keyLike": "2251799813685249",
}


def test_dump_and_load_agree_with_json() -> None:
    for name, value in VALUES.items():
        # What PostgreSQL gives back is its own text of the document: reading json's and orjson's text alike.
        assert json.loads(dump_json(value)) == value, name
        assert load_json(json.dumps(value).encode()) == value, name
        assert type(load_json(json.dumps(value).encode())) is type(value), name
    assert load_json(b"123456789012345678901234567890") == 123456789012345678901234567890
    assert dump_json({1: "int key"}) == json.dumps({1: "int key"})  # orjson refuses it; json's text is kept


@pytest.mark.django_db
@pytest.mark.postgres
@pytest.mark.parametrize("instances", [1, SMALL_UPDATE + 1], ids=["one-statement", "copy"])
def test_variables_round_trip_through_the_engine(creds, instances: int) -> None:  # type: ignore[no-untyped-def]
    tenant = creds.tenant
    _, (definition,) = deploy(tenant, [Resource("order.bpmn", bpmn_file("hello-service-task.bpmn"))], timezone.now())
    keys = [start_instance(tenant, definition, VALUES, "test", timezone.now()).key for _ in range(instances)]
    drain()  # the start: the engine writes the variables (COPY above SMALL_UPDATE rows)
    for name, value in VALUES.items():
        stored = list(Variable.objects.filter(process_instance_id__in=keys, name=name).values_list("value", flat=True))
        assert stored == [value] * instances, name
    # The engine's own read of the same rows (orjson, json for long numbers), with its timestamps.
    read = sql.Read(Variable, "process_instance_id = ANY(%s::bigint[]) ORDER BY key", (sql.bigint_array(keys),),
                    lambda: Variable.objects.none())
    instances_read = sql.Read(ProcessInstance, "key = ANY(%s::bigint[])", (sql.bigint_array(keys),),
                              lambda: ProcessInstance.objects.none())
    sql.fetch(read, instances_read)
    assert {v.name: v.value for v in read.rows} == VALUES
    orm = {pi.key: pi.start_date for pi in ProcessInstance.objects.filter(key__in=keys)}
    for pi in instances_read.rows:
        assert pi.start_date == orm[pi.key] and pi.start_date.utcoffset() == UTC.utcoffset(None)
    # The completion reads them through the loop and writes a new one; the instances complete.
    jobs = activate_jobs([tenant.pk], "payment", "w", 60_000, instances, timezone.now())
    for job in jobs:
        complete_job([tenant.pk], job.key, {"paid": VALUES["nested"]}, "w", timezone.now())
    drain()
    assert ProcessInstance.objects.filter(key__in=keys, state="COMPLETED").count() == instances
    paid = list(Variable.objects.filter(process_instance_id__in=keys, name="paid").values_list("value", flat=True))
    assert paid == [VALUES["nested"]] * instances
