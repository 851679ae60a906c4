"""Property: random valid DAGs of transforms, conditions and failing calls that continue run to completion, every
node at most once, exactly the nodes a reference model of the join rules says (succeeded and failed); random broken
ones are refused at the right pointer."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.flows.validate import validate
from engine.models import ElementInstance, Incident

pytestmark = pytest.mark.django_db

RULES = ("all_success", "one_success", "all_done", "none_failed")
_ids = itertools.count()


@st.composite
def dags(draw):
    size = draw(st.integers(2, 8))
    nodes, edges = [], []
    for i in range(size):
        targets = draw(st.lists(st.integers(i + 1, size - 1), unique=True, max_size=3)) if i < size - 1 else []
        is_condition = len(targets) >= 2 and draw(st.booleans())
        if is_condition:
            node = {"id": f"n{i}", "kind": "condition", "expression": f"b{i}"}
        elif draw(st.integers(0, 3)) == 0:
            # A call that fails at once (the address is not on the allow-list) and lets the run go on:
            # its downstream joins see it as failed.
            node = {"id": f"n{i}", "kind": "http", "url": "http://192.0.2.1/down", "on_failure": "continue",
                    "retry": {"max_attempts": 1}}
        else:
            node = {"id": f"n{i}", "kind": "transform", "set": {f"v{i}": "1"}}
        rule = draw(st.sampled_from(RULES))
        if rule != "all_success":
            node["join"] = rule
        nodes.append(node)
        for k, t in enumerate(targets):
            edge = {"from": f"n{i}", "to": f"n{t}"}
            if is_condition:
                edge["branch"] = "true" if k == 0 else "false" if k == 1 else draw(st.sampled_from(["true", "false"]))
            edges.append(edge)
    values = {f"b{i}": draw(st.booleans()) for i in range(size)}
    return {"nodes": nodes, "edges": edges}, values


def expected(doc, values) -> tuple[set[str], set[str]]:
    """The reference semantics of docs/flows.md, in topological (index) order: (succeeded, failed) nodes."""
    ran: set[str] = set()
    failed: set[str] = set()
    upstream: dict[str, list[dict]] = {n["id"]: [] for n in doc["nodes"]}
    for e in doc["edges"]:
        upstream[e["to"]].append(e)
    kinds = {n["id"]: n for n in doc["nodes"]}

    def start(node) -> None:
        (failed if node["kind"] == "http" else ran).add(node["id"])

    for node in doc["nodes"]:
        edges = upstream[node["id"]]
        if not edges:
            start(node)
            continue
        status: dict[str, str] = {}
        for e in edges:
            src = kinds[e["from"]]
            if e["from"] in failed:
                status[e["from"]] = "failed"  # a failure that continues goes along every out-edge
                continue
            taken = e["from"] in ran and (src["kind"] != "condition"
                                          or values[src["expression"]] == (e["branch"] == "true"))
            status[e["from"]] = "ok" if taken or status.get(e["from"]) == "ok" else "skipped"
        if not {"ok", "failed"} & set(status.values()):
            continue  # nothing arrives: skipped under every rule
        rule = node.get("join", "all_success")
        runs = {"all_success": all(s == "ok" for s in status.values()),
                "one_success": "ok" in status.values(),
                "all_done": True,
                "none_failed": "failed" not in status.values()}[rule]
        if runs:
            start(node)
    return ran, failed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dags())
def test_random_dags_run_exactly_the_nodes_the_join_rules_allow(flows, settings, case):
    settings.CONNECTOR_HTTP_ALLOW = "127.0.0.1"  # the failing nodes' address is not on it
    doc, values = case
    doc = {"id": f"dag{next(_ids)}", **doc}
    assume(not validate(doc))
    key = flows.run(doc, **values)
    # Joins never get stuck: the run ends, with no incident, whatever failed or was skipped.
    assert flows.state(key) == "COMPLETED" and not Incident.objects.filter(process_instance_key=key).exists()
    per_node = ElementInstance.objects.filter(process_instance_id=key).exclude(element_id__contains=".") \
        .exclude(key=key).values_list("element_id", flat=True)
    assert len(per_node) == len(set(per_node))  # every node at most once (one attempt each here)
    succeeded, failed = expected(doc, values)
    assert flows.ran(key) == succeeded
    assert set(per_node) - flows.ran(key) == failed


@settings(max_examples=40, deadline=None)
@given(dags(), st.data())
def test_random_broken_dags_are_refused_at_the_right_pointer(case, data):
    doc, _ = case
    doc = {"id": "broken", **doc}
    breakage = data.draw(st.sampled_from(["cycle", "unknown", "duplicate", "option"]))
    if breakage == "cycle":
        assume(doc["edges"])
        last = doc["edges"][-1]
        doc["edges"].append({"from": last["to"], "to": last["from"]})
        if doc["nodes"][int(last["to"][1:])]["kind"] == "condition":
            doc["edges"][-1]["branch"] = "true"
        # The cycle is reported on whichever of its two edges the walk closes it with.
        want = {f"/edges/{len(doc['edges']) - 1}", f"/edges/{len(doc['edges']) - 2}"}
    elif breakage == "unknown":
        doc["edges"].append({"from": "n0", "to": "ghost"})
        want = {f"/edges/{len(doc['edges']) - 1}/to"}
    elif breakage == "duplicate":
        doc["nodes"].append({"id": "n0", "kind": "transform", "set": {"x": "1"}})
        want = {f"/nodes/{len(doc['nodes']) - 1}/id"}
    else:
        doc["nodes"][0]["colour"] = "red"
        want = {"/nodes/0/colour"}
    assert want & {p.pointer for p in validate(doc)}
