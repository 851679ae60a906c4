"""What a small engine batch sends to PostgreSQL: its writes as one statement (engine/store/flush.py, Writes).

At a low rate each batch carries one or two instances, so the statements per batch are the statements per
instance: the claim, the commands, the reads and one write, not one per table written.
"""

from __future__ import annotations

import psycopg
import pytest

from engine.models import Command, ElementInstance, Event, Job, ProcessInstance, Variable
from engine.runtime.loop import drain
from engine.store import flush
from tests.conftest import deploy_file

# The statements counted are PostgreSQL's (a data-modifying WITH, COPY); SQLite writes through the ORM.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def sent(monkeypatch):  # type: ignore[no-untyped-def]
    """The statements psycopg sends (Django's cursors and the engine's own), in order."""
    statements: list[str] = []
    for name in ("execute", "copy"):
        original = getattr(psycopg.Cursor, name)

        def counted(self, query, *args, _original=original, **kwargs):  # type: ignore[no-untyped-def]
            text = str(query)
            # Not the batch's: the test's own transaction, and the chain triggers (read at most once a second
            # per tenant, engine/runtime/chains.py).
            if not text.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")) and "engine_flowtrigger" not in text:
                statements.append(text)
            return _original(self, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, name, counted)
    return statements


def _start(api, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    keys = []
    for i in range(n):
        resp = api.post("/v2/process-instances", {"processDefinitionId": "order-process",
                                                  "variables": {"orderId": f"A-{i}", "amount": i}}, format="json")
        assert resp.status_code == 200, resp.content
        keys.append(resp.json()["processInstanceKey"])
    return keys


def _complete_all(api) -> int:  # type: ignore[no-untyped-def]
    jobs = api.post("/v2/jobs/activation", {"type": "payment", "worker": "w", "timeout": 30000,
                                            "maxJobsToActivate": 100}, format="json").json()["jobs"]
    for job in jobs:
        resp = api.post(f"/v2/jobs/{job['jobKey']}/completion", {"variables": {"paid": True}}, format="json")
        assert resp.status_code == 204, resp.content
    return len(jobs)


def test_a_batch_of_one_completion_writes_its_rows_in_one_statement(api, sent):
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    (key,) = _start(api, 1)
    sent.clear()
    assert drain() == 1
    writes = [s for s in sent if not s.lstrip().upper().startswith("SELECT")]
    # claim, commands, open elements (a start reads no other table), then every row in one statement
    assert len(sent) == 4 and len(writes) == 1, sent
    assert _complete_all(api) == 1
    sent.clear()
    assert drain() == 1
    writes = [s for s in sent if not s.lstrip().upper().startswith("SELECT")]
    # claim, commands, elements + variables + jobs (one round trip), one write
    assert len(sent) == 6 and len(writes) == 1, sent
    for table in ("engine_elementinstance", "engine_variable", "engine_processinstance", "engine_event",
                  "engine_command"):
        assert table in writes[0]
    pi = ProcessInstance.objects.get(key=int(key))
    assert pi.state == "COMPLETED" and pi.end_date is not None
    assert {v.name: v.value for v in Variable.objects.filter(process_instance=pi)} == {
        "orderId": "A-0", "amount": 0, "paid": True}
    assert sorted(ElementInstance.objects.filter(process_instance=pi).values_list("state", flat=True)) == [
        "COMPLETED"] * 4
    assert not Command.objects.filter(state="PENDING").exists()


def test_writes_over_the_parameter_limit_go_as_several_statements_and_large_tables_by_copy(
        api, sent, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(flush, "MAX_PARAMS", 40)  # a few rows per statement
    monkeypatch.setattr(flush, "SMALL_UPDATE", 10)  # tables with more rows than this: COPY
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    keys = _start(api, 8)
    sent.clear()
    assert drain() == 8
    assert any(s.startswith("COPY engine_elementinstance") for s in sent), sent
    assert sum(s.startswith(("WITH w0 AS (INSERT", "INSERT")) for s in sent) > 1, sent
    assert _complete_all(api) == 8
    assert drain() == 8
    for i, key in enumerate(keys):
        pi = ProcessInstance.objects.get(key=int(key))
        assert pi.state == "COMPLETED"
        assert {v.name: v.value for v in Variable.objects.filter(process_instance=pi)} == {
            "orderId": f"A-{i}", "amount": i, "paid": True}
        assert Event.objects.filter(process_instance_key=pi.key).count() == 2
        assert Job.objects.get(process_instance_key=pi.key).state == "COMPLETED"
    assert not Command.objects.filter(state="PENDING").exists()
