"""A runaway process must not stop the engine: step budget, chain ceiling, collection, depth, timer cycles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from engine.actions.incidents import resolve_incident
from engine.actions.variables import set_variables
from engine.models import Command, Event, Incident, ProcessInstance
from engine.runtime.loop import apply_commands, drain, process_batch
from engine.timers import schedule
from tests.engine.conformance.harness import Engine
from tests.engine.runaway import collection, looping, plain, self_calling
from tests.engine.test_property__random_processes import snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def engine(creds) -> Engine:  # type: ignore[no-untyped-def]
    return Engine(creds.tenant)


def deploy(engine: Engine, *sources: tuple[str, bytes]) -> None:
    from engine.definitions.deploy import Resource
    from engine.definitions.deploy import deploy as do_deploy

    do_deploy(engine.tenant, [Resource(f"{name}.bpmn", data) for name, data in sources], engine.now())


def test_a_long_command_yields_to_a_continuation_and_finishes_as_if_uninterrupted(engine, settings):
    settings.ENGINE_STEP_BUDGET = 50
    deploy(engine, ("runaway", looping()))
    key = engine.start("runaway", n=0, limit=100)
    engine.assert_clean_end(key)
    assert engine.variables(key)["n"] == 100
    assert engine.completed(key)["Count"] == 100
    kinds = list(Command.objects.filter(process_instance_key=key).order_by("id").values_list("kind", "state"))
    assert kinds[0] == ("CREATE_INSTANCE", "PROCESSED")
    assert len(kinds) > 5 and set(kinds[1:]) == {("CONTINUE", "PROCESSED")}
    assert engine.records(key, "COMMAND_YIELDED")
    assert not Incident.objects.exists()


def test_other_instances_get_their_turn_between_the_slices_of_a_runaway(engine, settings):
    settings.ENGINE_STEP_BUDGET = 50
    settings.ENGINE_MAX_CHAIN_STEPS = 10_000_000
    deploy(engine, ("runaway", looping()), ("plain", plain()))
    from engine.actions.instances import start_instance
    from engine.models import ProcessDefinition

    definitions = {d.bpmn_process_id: d for d in ProcessDefinition.objects.all()}
    loop = start_instance(engine.tenant, definitions["runaway"], {"n": 0, "limit": 10**9}, "test", engine.now())
    process_batch(100)
    others = [start_instance(engine.tenant, definitions["plain"], {}, "test", engine.now()) for _ in range(5)]
    # One batch later the plain instances are done although the runaway is still going.
    process_batch(100)
    assert {ProcessInstance.objects.get(key=o.key).state for o in others} == {"COMPLETED"}
    assert ProcessInstance.objects.get(key=loop.key).state == "ACTIVE"
    assert Command.objects.filter(process_instance_key=loop.key, state="PENDING", kind="CONTINUE").count() == 1


def test_a_command_of_a_yielded_instance_waits_for_its_continuation(engine, settings):
    settings.ENGINE_STEP_BUDGET = 50
    deploy(engine, ("runaway", looping()))
    from engine.actions.instances import cancel_instance, start_instance
    from engine.models import ProcessDefinition

    definition = ProcessDefinition.objects.get()
    loop = start_instance(engine.tenant, definition, {"n": 0, "limit": 30}, "test", engine.now())
    cancel_instance(engine.tenant, loop.key, "test", engine.now())
    drain()
    # The create command ran to its end (through its continuations) before the cancel applied.
    assert engine.variables(loop.key)["n"] == 30
    assert engine.state(loop.key) == "COMPLETED"
    assert Command.objects.get(process_instance_key=loop.key, kind="CANCEL_INSTANCE").state == "REJECTED"


def test_a_loop_that_never_exits_ends_in_an_incident_and_resolving_continues(engine, settings):
    settings.ENGINE_STEP_BUDGET = 100
    settings.ENGINE_MAX_CHAIN_STEPS = 1000
    deploy(engine, ("runaway", looping()))
    key = engine.start("runaway", n=0, limit=10**9)
    [(element_id, error_type, message)] = engine.incidents(key)
    assert (element_id, error_type) == ("runaway", "EXECUTION_LIMIT_EXCEEDED")
    assert "1000" in message and "loop" in message
    assert engine.state(key) == "ACTIVE"
    assert not Command.objects.filter(state="PENDING").exists()  # the engine is idle, not busy
    n = engine.variables(key)["n"]
    assert 100 < n < 1000
    # Fix the data the loop depends on, then resolve: the parked tokens continue and the instance ends.
    set_variables([engine.tenant.pk], key, {"limit": n + 3}, False, "test", engine.now())
    drain()
    incident = Incident.objects.get(process_instance_key=key)
    resolve_incident([engine.tenant.pk], incident.key, "test", engine.now())
    drain()
    engine.assert_clean_end(key)
    assert engine.variables(key)["n"] == n + 3


def test_replay_in_timeline_order_reproduces_a_yielded_instance(engine, settings):
    settings.ENGINE_STEP_BUDGET = 40
    deploy(engine, ("runaway", looping()))
    key = engine.start("runaway", n=0, limit=25)
    engine.assert_clean_end(key)
    before = snapshot(key)
    # The timeline (Event rows) is the order the commands were applied in.
    order = list(Event.objects.filter(process_instance_key=key).order_by("id").values_list("command_id", flat=True))
    commands = {c.id: c for c in Command.objects.filter(process_instance_key=key)}
    from tests.engine.test_property__random_processes import ElementInstance, Job, UserTask, Variable

    with transaction.atomic():
        for model, field_name in ((ElementInstance, "process_instance_id"), (Variable, "process_instance_id"),
                                  (Job, "process_instance_key"), (Incident, "process_instance_key"),
                                  (UserTask, "process_instance_key"), (Event, "process_instance_key")):
            model.objects.filter(**{field_name: key}).delete()
        ProcessInstance.objects.filter(key=key).update(state="ACTIVE", end_date=None, has_incident=False)
    for command_id in order:
        with transaction.atomic():
            pi = ProcessInstance.objects.select_for_update().get(key=key)
            apply_commands([pi], [commands[command_id]], replay=True)
    assert snapshot(key) == before


def test_a_process_that_calls_itself_stops_at_the_depth_limit(engine, settings):
    settings.ENGINE_MAX_CALL_DEPTH = 5
    deploy(engine, ("recursive", self_calling()))
    root = engine.start("recursive")
    drain()
    instances = list(ProcessInstance.objects.filter(root_instance_key=root))
    assert len(instances) == 6  # the root and five levels of children
    [incident] = Incident.objects.filter(state="ACTIVE")
    assert incident.error_type == "CALLED_ELEMENT_ERROR" and "call depth 6" in incident.error_message
    assert not Command.objects.filter(state="PENDING").exists()


def test_a_collection_over_the_limit_is_an_incident(engine, settings):
    settings.ENGINE_MAX_COLLECTION = 10
    deploy(engine, ("fanout", collection()))
    small = engine.start("fanout", items=list(range(10)))
    engine.assert_clean_end(small)
    big = engine.start("fanout", items=list(range(11)))
    [(element_id, error_type, message)] = engine.incidents(big)
    assert (element_id, error_type) == ("Each", "EXTRACT_VALUE_ERROR") and "11 items" in message
    assert engine.completed(big)["Each"] == 0


def test_a_timer_cycle_repeats_no_faster_than_the_minimum(settings):
    settings.ENGINE_MIN_TIMER_CYCLE_SECONDS = 1
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert schedule.first_due("cycle", "R/PT0S", now) == (now + timedelta(seconds=1), -1)
    assert schedule.next_due("R/PT0S", now) == now + timedelta(seconds=1)
    assert schedule.next_due("R/PT0.001S", now) == now + timedelta(seconds=1)
    assert schedule.next_due("R/PT5S", now) == now + timedelta(seconds=5)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_runaway_does_not_stop_a_real_engine_worker(creds, start_worker):
    from django.utils import timezone

    from engine.actions.instances import find_definition, start_instance
    from engine.definitions.deploy import Resource
    from engine.definitions.deploy import deploy as do_deploy
    from tests.conftest import wait_for

    do_deploy(creds.tenant, [Resource("runaway.bpmn", looping()), Resource("plain.bpmn", plain())], timezone.now())
    start_worker(FLOWSYNC_ENGINE_STEP_BUDGET="500", FLOWSYNC_ENGINE_MAX_CHAIN_STEPS="60000")
    runaway = start_instance(creds.tenant, find_definition(creds.tenant, process_id="runaway"),
                             {"n": 0, "limit": 10**9}, "test", timezone.now()).key
    # The worker is busy with the runaway (it has yielded at least once) when the others arrive.
    wait_for(lambda: Command.objects.filter(process_instance_key=runaway, kind="CONTINUE",
                                            state="PROCESSED").exists(), timeout=60)
    plain_definition = find_definition(creds.tenant, process_id="plain")
    others = [start_instance(creds.tenant, plain_definition, {}, "test", timezone.now()).key for _ in range(100)]
    wait_for(lambda: ProcessInstance.objects.filter(key__in=others, state="COMPLETED").count() == 100, timeout=30)
    wait_for(lambda: Incident.objects.filter(process_instance_key=runaway).exists(), timeout=120)
    [incident] = Incident.objects.filter(process_instance_key=runaway)
    assert incident.error_type == "EXECUTION_LIMIT_EXCEEDED"
    assert ProcessInstance.objects.get(key=runaway).state == "ACTIVE"
    # Every ordinary instance was served while the runaway was still going, each within seconds.
    parked_at = Command.objects.filter(process_instance_key=runaway).order_by("-id").values_list(
        "processed_at", flat=True).first()
    served = Command.objects.filter(process_instance_key__in=others, kind="CREATE_INSTANCE")
    assert {c.state for c in served} == {"PROCESSED"}
    assert max(c.processed_at for c in served) < parked_at
    assert max((c.processed_at - c.created_at).total_seconds() for c in served) < 10
    assert not Command.objects.filter(state__in=["PENDING", "FAILED"]).exists()


def test_a_zero_interval_timer_start_cycle_does_not_spin_the_sweeper(engine, settings):
    settings.ENGINE_MIN_TIMER_CYCLE_SECONDS = 1
    from engine.timers.firing import fire_due_timers

    source = (b'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
              b'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
              b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D" targetNamespace="http://x">'
              b'<bpmn:process id="spin" isExecutable="true"><bpmn:startEvent id="Every"><bpmn:timerEventDefinition>'
              b'<bpmn:timeCycle xsi:type="bpmn:tFormalExpression">R/PT0S</bpmn:timeCycle></bpmn:timerEventDefinition>'
              b'</bpmn:startEvent><bpmn:sequenceFlow id="f" sourceRef="Every" targetRef="End"/>'
              b'<bpmn:endEvent id="End"/></bpmn:process></bpmn:definitions>')
    deploy(engine, ("spin", source))
    later = engine.now() + timedelta(seconds=10)
    rounds = 0
    # The sweeper fires until nothing is due; at one firing per second of the window it stops.
    while fire_due_timers(later) and rounds < 50:
        rounds += 1
    assert rounds < 50
    assert ProcessInstance.objects.count() <= 11
