"""The Inspector draws a flow's run: a generated BPMN file, laid out, with the run's tokens on its nodes."""

from __future__ import annotations

import json

import pytest
from lxml import etree

from engine.actions.instances import start_instance
from engine.definitions.deploy import Resource, deploy
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db

FLOW = {
    "id": "drawn",
    "nodes": [
        {"id": "prep", "kind": "transform", "set": {"x": "1"}},
        {"id": "check", "kind": "condition", "expression": "x > 0"},
        {"id": "review", "kind": "user_task", "candidate_groups": ["ops"], "timeout": "PT1H"},
        {"id": "skip", "kind": "transform", "set": {"y": "1"}},
        {"id": "end", "kind": "transform", "set": {"z": "1"}, "join": "one_success"},
    ],
    "edges": [{"from": "prep", "to": "check"}, {"from": "check", "to": "review", "branch": "true"},
              {"from": "check", "to": "skip", "branch": "false"}, {"from": "review", "to": "end"},
              {"from": "skip", "to": "end"}],
}


def test_a_flow_run_is_drawn_with_its_tokens(flow, tenant, op_client):
    definition = deploy(tenant, [Resource("drawn.flow.json", json.dumps(FLOW).encode())], flow.now())[1][0]
    key = start_instance(tenant, definition, {}, "t", flow.now()).key
    drain()
    resp = op_client.get(f"/inspector/instances/{key}/diagram.json")
    assert resp.status_code == 200
    body = resp.json()
    assert body["kind"] == "dag" and body["laidOut"] is True and not body["layoutProblem"]
    root = etree.fromstring(body["xml"].encode())
    shapes = {s.get("bpmnElement") for s in root.iter("{http://www.omg.org/spec/BPMN/20100524/DI}BPMNShape")}
    assert {"prep", "check", "review", "skip", "end", "end.join", "flow.start", "review.timeout"} <= shapes
    assert body["elements"]["review"]["active"] == 1 and body["elements"]["prep"]["completed"] == 1
    assert op_client.get(f"/inspector/instances/{key}/").status_code == 200
