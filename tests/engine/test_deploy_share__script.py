# ruff: noqa: E501 — BPMN text kept one element a line
"""bench/deploy_share.py counts what it should on files of our own: one that deploys and completes under
generic workers (a job and a user task), one waiting on a message, and one refused for an element FlowSync
does not run (a complex gateway)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="http://example.org">\n')

COMPLETES = HEAD + """<bpmn:process id="ds-ok" isExecutable="true">
  <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="job"/>
  <bpmn:serviceTask id="job"><bpmn:extensionElements><zeebe:taskDefinition type="anything"/></bpmn:extensionElements></bpmn:serviceTask>
  <bpmn:sequenceFlow id="f2" sourceRef="job" targetRef="ut"/>
  <bpmn:userTask id="ut"><bpmn:extensionElements><zeebe:userTask/></bpmn:extensionElements></bpmn:userTask>
  <bpmn:sequenceFlow id="f3" sourceRef="ut" targetRef="t"/>
  <bpmn:intermediateCatchEvent id="t"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
  <bpmn:sequenceFlow id="f4" sourceRef="t" targetRef="e"/>
  <bpmn:endEvent id="e"/>
</bpmn:process></bpmn:definitions>
"""

WAITS = HEAD + """<bpmn:message id="m" name="go"><bpmn:extensionElements><zeebe:subscription correlationKey="=&quot;k&quot;"/></bpmn:extensionElements></bpmn:message>
<bpmn:process id="ds-wait" isExecutable="true">
  <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="c"/>
  <bpmn:intermediateCatchEvent id="c"><bpmn:messageEventDefinition messageRef="m"/></bpmn:intermediateCatchEvent>
  <bpmn:sequenceFlow id="f2" sourceRef="c" targetRef="e"/>
  <bpmn:endEvent id="e"/>
</bpmn:process></bpmn:definitions>
"""

REFUSED = HEAD + """<bpmn:process id="ds-refused" isExecutable="true">
  <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
  <bpmn:complexGateway id="g"/><bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e"/>
  <bpmn:endEvent id="e"/>
</bpmn:process></bpmn:definitions>
"""


def load_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("deploy_share", ROOT / "bench" / "deploy_share.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["deploy_share"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_counts_deployed_completed_waiting_and_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "completes.bpmn").write_text(COMPLETES)
    (tmp_path / "a" / "waits.bpmn").write_text(WAITS)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "refused.bpmn").write_text(REFUSED)
    script = load_script()

    outcomes = {o.path: o for o in script.run_dir(tmp_path)}

    assert outcomes["a/completes.bpmn"].instances == [("ds-ok", "COMPLETED", "")]
    assert outcomes["a/waits.bpmn"].instances == [("ds-wait", "WAITING", "message")]
    refused = outcomes["b/refused.bpmn"]
    assert not refused.deployed and any("complex" in r.lower() for r in refused.reasons), refused.reasons
    totals = script.totals(list(outcomes.values()))
    assert (totals["files"], totals["deployed"], totals["refused"]) == (3, 2, 1)
    assert (totals["started"], totals["completed"]) == (2, 1)
    assert totals["not_completed"] == {"WAITING: message": 1}
