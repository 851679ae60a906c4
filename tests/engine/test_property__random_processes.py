"""Property tests: random well-formed processes always end cleanly, and replay reproduces them.

Processes are generated block-structured from tasks (manual, script, service), sequences,
exclusive/parallel/inclusive split-join pairs, embedded subprocesses and multi-instance
activities. Every instance is driven to its end by completing whatever jobs appear; then
its commands are applied again, in order, to an emptied instance, and the element
instances, variables and event records must come out identical.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.actions.instances import start_instance
from engine.actions.jobs import activate_jobs, complete_job
from engine.definitions.deploy import Resource, deploy
from engine.models import Command, ElementInstance, Event, Incident, Job, ProcessInstance, UserTask, Variable
from engine.runtime.loop import apply_commands, drain

pytestmark = pytest.mark.django_db

# -- random process trees ------------------------------------------------------------------------

leaf = st.sampled_from(["manual", "script", "service", "mi-script"])


def _blocks(children: st.SearchStrategy) -> st.SearchStrategy:
    branches = st.lists(children, min_size=2, max_size=3)
    return st.one_of(
        st.tuples(st.just("seq"), children, children),
        st.tuples(st.just("xor"), branches),
        st.tuples(st.just("and"), branches),
        st.tuples(st.just("or"), branches),
        st.tuples(st.just("sub"), children),
        st.tuples(st.just("mi-sub"), children),
    )


trees = st.recursive(leaf, _blocks, max_leaves=8)


@dataclass
class Xml:
    parts: list[str] = field(default_factory=list)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    thresholds: list[int] = field(default_factory=list)

    def new(self, prefix: str) -> str:
        return f"{prefix}_{next(self.ids)}"

    def flow(self, out: list[str], source: str, target: str, condition: str | None = None) -> str:
        fid = self.new("Flow")
        if condition is None:
            out.append(f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}" />')
        else:
            out.append(f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">'
                       f'<bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>')
        return fid


def _mi(collection: str) -> str:
    return ('<bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements>'
            f'<zeebe:loopCharacteristics inputCollection="{collection}" inputElement="item" />'
            '</bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>')


def render(tree: Any, xml: Xml, out: list[str], threshold: int) -> tuple[str, str]:
    """Append the block's elements and flows to `out`; return its entry and exit element ids."""
    if isinstance(tree, str):
        eid = xml.new("Task")
        if tree == "manual":
            out.append(f'<bpmn:manualTask id="{eid}" />')
        elif tree == "service":
            out.append(f'<bpmn:serviceTask id="{eid}"><bpmn:extensionElements>'
                       '<zeebe:taskDefinition type="work" /></bpmn:extensionElements></bpmn:serviceTask>')
        else:
            loop = _mi("=[1, 2]") if tree == "mi-script" else ""
            out.append(f'<bpmn:scriptTask id="{eid}"><bpmn:extensionElements>'
                       f'<zeebe:script expression="=x + {threshold}" resultVariable="v_{eid}" />'
                       f'</bpmn:extensionElements>{loop}</bpmn:scriptTask>')
        return eid, eid
    kind = tree[0]
    if kind == "seq":
        a_in, a_out = render(tree[1], xml, out, threshold)
        b_in, b_out = render(tree[2], xml, out, threshold + 1)
        xml.flow(out, a_out, b_in)
        return a_in, b_out
    if kind in ("sub", "mi-sub"):
        eid = xml.new("Sub")
        inner: list[str] = []
        start, end = xml.new("Start"), xml.new("End")
        inner += [f'<bpmn:startEvent id="{start}" />', f'<bpmn:endEvent id="{end}" />']
        b_in, b_out = render(tree[1], xml, inner, threshold)
        xml.flow(inner, start, b_in)
        xml.flow(inner, b_out, end)
        loop = _mi("=[1, 2, 3]") if kind == "mi-sub" else ""
        out.append(f'<bpmn:subProcess id="{eid}">{loop}' + "".join(inner) + "</bpmn:subProcess>")
        return eid, eid
    tag = {"xor": "exclusiveGateway", "and": "parallelGateway", "or": "inclusiveGateway"}[kind]
    split, join = xml.new("Split"), xml.new("Join")
    out.append(f'<bpmn:{tag} id="{split}" DEFAULT/>')
    out.append(f'<bpmn:{tag} id="{join}" />')
    default = None
    for i, branch in enumerate(tree[1]):
        b_in, b_out = render(branch, xml, out, threshold + i)
        condition = None if kind == "and" or i == 0 else f"=x &gt; {threshold + i}"
        fid = xml.flow(out, split, b_in, condition)
        if i == 0 and kind != "and":
            default = fid
        xml.flow(out, b_out, join)
    index = out.index(f'<bpmn:{tag} id="{split}" DEFAULT/>')
    out[index] = f'<bpmn:{tag} id="{split}"' + (f' default="{default}"' if default else "") + " />"
    return split, join


def process_xml(tree: Any, process_id: str) -> bytes:
    xml = Xml()
    body: list[str] = ['<bpmn:startEvent id="Start" />', '<bpmn:endEvent id="End" />']
    b_in, b_out = render(tree, xml, body, 0)
    xml.flow(body, "Start", b_in)
    xml.flow(body, b_out, "End")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">'
            f'<bpmn:process id="{process_id}" isExecutable="true">' + "".join(body)
            + "</bpmn:process></bpmn:definitions>").encode()


# -- driving and snapshots -----------------------------------------------------------------------

def run_to_end(tenant, definition, x: int) -> int:  # type: ignore[no-untyped-def]
    instance = start_instance(tenant, definition, {"x": x}, "test", timezone.now())
    drain()
    for _ in range(200):
        jobs = activate_jobs([tenant.pk], "work", "w", 60_000, 100, timezone.now())
        if not jobs:
            break
        for job in jobs:
            complete_job([tenant.pk], job.key, {}, "w", timezone.now())
        drain()
    return instance.key


def snapshot(key: int) -> dict[str, Any]:
    pi = ProcessInstance.objects.get(key=key)
    return {
        "instance": (pi.state, pi.end_date, pi.has_incident),
        "elements": list(ElementInstance.objects.filter(process_instance_id=key).order_by("key").values_list(
            "key", "element_id", "element_type", "flow_scope_key", "state", "start_date", "end_date", "data",
            "incident_key")),
        "variables": list(Variable.objects.filter(process_instance_id=key).order_by("key").values_list(
            "key", "scope_key", "name", "value")),
        "jobs": list(Job.objects.filter(process_instance_key=key).order_by("key").values_list(
            "key", "element_instance_key", "type", "retries", "created_at")),
        "events": list(Event.objects.filter(process_instance_key=key).order_by("id").values_list(
            "command_id", "command_kind", "created_at", "records")),
    }


def replay(key: int) -> None:
    """Empty the instance's state and apply its commands again, one batch per command, as recorded."""
    commands = list(Command.objects.filter(process_instance_key=key).order_by("id"))
    with transaction.atomic():
        for model, field_name in ((ElementInstance, "process_instance_id"), (Variable, "process_instance_id"),
                                  (Job, "process_instance_key"), (Incident, "process_instance_key"),
                                  (UserTask, "process_instance_key"), (Event, "process_instance_key")):
            model.objects.filter(**{field_name: key}).delete()
        ProcessInstance.objects.filter(key=key).update(state="ACTIVE", end_date=None, has_incident=False)
    for command in commands:
        with transaction.atomic():
            pi = ProcessInstance.objects.select_for_update().get(key=key)
            apply_commands([pi], [command], replay=True)


def assert_clean_end(key: int) -> None:
    pi = ProcessInstance.objects.get(key=key)
    active = list(ElementInstance.objects.filter(process_instance_id=key, state="ACTIVE").values_list("element_id",
                                                                                                        flat=True))
    assert pi.state == "COMPLETED", (pi.state, active, list(Incident.objects.filter(process_instance_key=key)
                                                           .values_list("element_id", "error_message")))
    assert not active
    assert not [e.data for e in ElementInstance.objects.filter(process_instance_id=key) if e.data.get("tokens")]
    assert not Job.objects.filter(process_instance_key=key, state__in=["ACTIVATABLE", "ACTIVATED"]).exists()


counter = itertools.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(tree=trees, x=st.integers(min_value=0, max_value=6))
def test_random_processes_end_cleanly_and_replay_identically(creds, tree, x):
    process_id = f"random-{next(counter)}"
    _, (definition,) = deploy(creds.tenant, [Resource(f"{process_id}.bpmn", process_xml(tree, process_id))],
                              timezone.now())
    key = run_to_end(creds.tenant, definition, x)
    assert_clean_end(key)
    before = snapshot(key)
    replay(key)
    assert snapshot(key) == before
