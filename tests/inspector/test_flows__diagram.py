"""The Inspector draws a flow's run: a generated BPMN file, laid out, with the run's tokens on its nodes."""

from __future__ import annotations

import json

import pytest
from lxml import etree

from engine.actions.instances import start_instance
from engine.connectors.runner import run_connectors
from engine.definitions.deploy import Resource, deploy
from engine.runtime.loop import drain
from tests.engine.flows.conftest import FlakyServer

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


def test_a_flow_runs_page_lists_its_steps_with_each_attempts_log(flow, tenant, op_client, settings):
    settings.CONNECTOR_HTTP_ALLOW = "127.0.0.1"
    server = FlakyServer()
    try:
        doc = {"id": "called", "nodes": [{
            "id": "call", "kind": "http", "url": f"{server.url}/fail/1/page", "headers": {"X-Api-Key": "k-secret"},
            "retry": {"max_attempts": 2, "backoff": {"initial": "PT0S", "max": "PT0S"}}}]}
        definition = deploy(tenant, [Resource("called.flow.json", json.dumps(doc).encode())], flow.now())[1][0]
        key = start_instance(tenant, definition, {}, "t", flow.now()).key
        drain()
        while run_connectors([tenant.pk], now=flow.now()):
            drain()
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
    page = op_client.get(f"/inspector/instances/{key}/").content.decode()
    assert 'id="flow-steps"' in page and 'data-step="call"' in page
    assert 'data-attempt="1"' in page and 'data-attempt="2"' in page
    steps = page[page.index('id="flow-steps"'):page.index('id="timeline"')]
    assert "&lt;- 500" in steps and "&lt;- 200" in steps and "k-secret" not in steps and "***" in steps
