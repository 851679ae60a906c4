"""Process instance modification (Camunda 8 semantics): activate, terminate and move, applied as one
command through the real action and engine loop; refusals leave the instance untouched."""

from __future__ import annotations

from collections import Counter

import pytest
from django.utils import timezone

from engine.actions.modification import Activate, Modification, Move, modify_instance
from engine.errors import Conflict, InvalidInput
from engine.models import Command, ElementInstance, Job
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db


def modify(engine, key: int, **kwargs) -> Command:  # type: ignore[no-untyped-def]
    cmd = modify_instance([engine.tenant.pk], key, Modification(**kwargs), "test", timezone.now())
    drain()
    cmd.refresh_from_db()
    return cmd


def active_key(key: int, element_id: str) -> int:
    return ElementInstance.objects.get(process_instance_id=key, element_id=element_id, state="ACTIVE").key


def open_jobs(key: int) -> Counter[str]:
    return Counter(Job.objects.filter(process_instance_key=key, state="ACTIVATABLE").values_list("element_id",
                                                                                                   flat=True))


def test_move_a_token_past_a_task_terminates_its_job_and_the_process_goes_on(engine):
    engine.deploy("modification")
    key = engine.start("modification", items=[1])
    assert engine.active(key) == Counter(["modification", "Task_A"])
    cmd = modify(engine, key, moves=[Move("Task_B", source_element_id="Task_A")])
    assert cmd.state == "PROCESSED", cmd.error
    assert engine.active(key) == Counter(["modification", "Task_B"])
    assert engine.terminated(key) == Counter(["Task_A"])
    assert open_jobs(key) == Counter(["Task_B"])
    assert Job.objects.get(process_instance_key=key, element_id="Task_A").state == "CANCELED"
    # The move is one command, one event: never half applied.
    assert Command.objects.filter(process_instance_key=key, kind="MODIFY_INSTANCE").count() == 1
    engine.complete_jobs("mod-b")
    engine.complete_jobs("mod-c")
    engine.complete_jobs("mod-d")
    engine.assert_clean_end(key)


def test_activate_with_variables_for_the_process_and_for_the_element_itself(engine):
    engine.deploy("modification")
    key = engine.start("modification", items=[])
    cmd = modify(engine, key, activate=[Activate("Task_B", variables=[("", {"carrier": "DHL"}),
                                                                       ("Task_B", {"attempt": 2})])])
    assert cmd.state == "PROCESSED", cmd.error
    # A second token: Task_A still waits, Task_B waits beside it.
    assert engine.active(key) == Counter(["modification", "Task_A", "Task_B"])
    assert engine.variables(key)["carrier"] == "DHL"
    assert ("Task_B", "attempt", 2) in engine.all_variables(key)
    [job_b] = engine.jobs("mod-b")
    assert engine.job_variables(job_b)["attempt"] == 2


def test_activate_inside_an_active_subprocess_needs_its_scope(engine):
    engine.deploy("modification")
    key = engine.start("modification", items=[1])
    with pytest.raises(InvalidInput, match="flow scope 'SubProcess_Pack' has no active instance"):
        modify(engine, key, activate=[Activate("Task_C")])
    modify(engine, key, moves=[Move("SubProcess_Pack", source_element_id="Task_A")])
    assert engine.active(key) == Counter(["modification", "SubProcess_Pack", "Task_C"])
    sub = active_key(key, "SubProcess_Pack")
    cmd = modify(engine, key, activate=[Activate("Task_C", ancestor_key=sub, variables=[("SubProcess_Pack",
                                                                                          {"box": "L"})])])
    assert cmd.state == "PROCESSED", cmd.error
    assert engine.active(key) == Counter(["modification", "SubProcess_Pack", "Task_C", "Task_C"])
    assert ("SubProcess_Pack", "box", "L") in engine.all_variables(key)


def test_terminating_the_last_token_of_a_scope_terminates_the_scope_and_then_the_instance(engine):
    engine.deploy("modification")
    key = engine.start("modification", items=[1])
    modify(engine, key, moves=[Move("SubProcess_Pack", source_element_id="Task_A")])
    cmd = modify(engine, key, terminate_keys=[active_key(key, "Task_C")])
    assert cmd.state == "PROCESSED", cmd.error
    assert engine.terminated(key) == Counter(["Task_A", "Task_C", "SubProcess_Pack", "modification"])
    engine.assert_clean_end(key, "TERMINATED")


def test_terminate_and_activate_in_one_command_keep_the_scope_alive(engine):
    engine.deploy("modification")
    key = engine.start("modification", items=[1])
    modify(engine, key, moves=[Move("SubProcess_Pack", source_element_id="Task_A")])
    task_c = active_key(key, "Task_C")
    cmd = modify(engine, key, terminate_keys=[task_c], activate=[Activate("EndEvent_Sub")])
    assert cmd.state == "PROCESSED", cmd.error
    # The end event completed the subprocess normally; the multi-instance body runs next.
    assert engine.completed(key)["SubProcess_Pack"] == 1
    assert engine.active(key) == Counter(["modification", "SubProcess_Each", "SubProcess_Each", "Task_D"])


def test_multi_instance_refusals_and_activating_inside_one_inner_instance(engine):
    engine.deploy("modification")
    key = engine.start("modification", items=[1, 2])
    modify(engine, key, moves=[Move("SubProcess_Each", source_element_id="Task_A")])
    assert engine.active(key) == Counter(["modification", "SubProcess_Each", "SubProcess_Each", "SubProcess_Each",
                                          "Task_D", "Task_D"])
    inner = ElementInstance.objects.filter(process_instance_id=key, element_id="SubProcess_Each", state="ACTIVE")
    body = inner.get(element_type="MULTI_INSTANCE_BODY")
    inners = list(inner.exclude(element_type="MULTI_INSTANCE_BODY").order_by("key"))
    with pytest.raises(InvalidInput, match="one instance of multi-instance 'SubProcess_Each'; terminate its body"):
        modify(engine, key, terminate_keys=[inners[0].key])
    with pytest.raises(InvalidInput, match="has 2 active instances; choose one"):
        modify(engine, key, activate=[Activate("Task_D")])
    with pytest.raises(InvalidInput, match="not an active instance of 'SubProcess_Each'"):
        modify(engine, key, activate=[Activate("Task_D", ancestor_key=body.key)])
    cmd = modify(engine, key, activate=[Activate("Task_D", ancestor_key=inners[1].key)])
    assert cmd.state == "PROCESSED", cmd.error
    assert engine.active(key)["Task_D"] == 3
    # Terminating the body ends every inner instance with it; nothing else is left, so the instance ends.
    modify(engine, key, terminate_keys=[body.key])
    engine.assert_clean_end(key, "TERMINATED")


def test_refusals_change_nothing(engine):
    engine.deploy("modification")
    key = engine.start("modification", items=[1])
    before = engine.elements(key)
    cases = [
        (dict(activate=[Activate("Nope")]), "does not exist"),
        (dict(activate=[Activate("Boundary_Bad")]), "boundary event"),
        (dict(terminate_keys=[key]), "cancellation"),
        (dict(terminate_keys=[123]), "not an active element instance"),
        (dict(activate=[Activate("Task_B", variables=[("SubProcess_Pack", {"x": 1})])]), "variable scope"),
        # One bad instruction refuses the whole modification, the good one included.
        (dict(activate=[Activate("Task_B"), Activate("Nope")]), "does not exist"),
        ({}, "no instructions"),
    ]
    for kwargs, message in cases:
        with pytest.raises(InvalidInput, match=message):
            modify(engine, key, **kwargs)
    assert engine.elements(key) == before
    assert not Command.objects.filter(process_instance_key=key, kind="MODIFY_INSTANCE").exists()
    modify(engine, key, terminate_keys=[active_key(key, "Task_A")])
    with pytest.raises(Conflict, match="TERMINATED"):
        modify(engine, key, activate=[Activate("Task_B")])


def test_the_engine_checks_again_when_the_instance_moved_meanwhile(engine):
    """Validated against the rows, but the job's completion (written first) applies first: the engine
    refuses the whole modification, its activation included."""
    from engine.actions.jobs import activate_jobs, complete_job

    engine.deploy("modification")
    key = engine.start("modification", items=[1])
    task_a = active_key(key, "Task_A")
    [job] = activate_jobs([engine.tenant.pk], "mod-a", "test", 60_000, 1, engine.now())
    complete_job([engine.tenant.pk], job.key, {}, "test", engine.now())
    cmd = modify_instance([engine.tenant.pk], key, Modification(terminate_keys=[task_a],
                                                                 activate=[Activate("SubProcess_Pack")]), "test",
                          engine.now())
    drain()
    cmd.refresh_from_db()
    assert cmd.state == "REJECTED"
    assert f"{task_a} is not an active element instance" in cmd.error
    assert engine.active(key) == Counter(["modification", "Task_B"])


def test_terminating_an_element_with_an_incident_resolves_the_incident(engine):
    from engine.actions.jobs import activate_jobs, fail_job
    from engine.models import Incident

    engine.deploy("modification")
    key = engine.start("modification", items=[1])
    [job] = activate_jobs([engine.tenant.pk], "mod-a", "test", 60_000, 1, engine.now())
    fail_job([engine.tenant.pk], job.key, 0, "down", None, None, "test", engine.now())
    drain()
    assert engine.instance(key).has_incident
    cmd = modify(engine, key, moves=[Move("Task_B", source_element_id="Task_A")])
    assert cmd.state == "PROCESSED", cmd.error
    assert not engine.instance(key).has_incident
    assert Incident.objects.get(process_instance_key=key).state == "RESOLVED"
    assert engine.active(key) == Counter(["modification", "Task_B"])
