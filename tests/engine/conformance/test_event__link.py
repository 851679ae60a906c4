"""Link events: a throw jumps to the catch of the same name in its own scope; checked at deploy."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from engine.bpmn import DefinitionError
from engine.definitions.deploy import Resource, deploy

# Files that must not deploy live beside the engine tests (every conformance file deploys).
REFUSED = Path(__file__).resolve().parents[1] / "bpmn"

pytestmark = pytest.mark.django_db


def test_link_throw_continues_at_the_catch_of_its_own_scope(engine):
    engine.deploy("link-events")
    key = engine.start("link-events")
    engine.assert_clean_end(key)
    # Both scopes use the name "Page2": each throw lands on the catch of its own scope.
    assert engine.completion_order(key) == [
        "StartEvent_1", "Task_Count", "Link_ThrowPage", "Link_CatchPage", "StartEvent_Inner", "Link_ThrowInner",
        "Link_CatchInner", "Task_CountInner", "EndEvent_Inner", "SubProcess_Inner", "EndEvent_1", "link-events"]
    assert engine.variables(key)["hops"] == 2
    assert [(r["linkName"], r["catchElementId"]) for r in engine.records(key, "LINK_THROWN")] == [
        ("Page2", "Link_CatchPage"), ("Page2", "Link_CatchInner")]
    assert engine.completed(key)["Link_CatchPage"] == 1


def test_a_link_throw_without_a_catch_in_its_scope_is_refused_with_id_and_line(engine):
    with pytest.raises(DefinitionError) as refused:
        deploy(engine.tenant, [Resource("link-unmatched.bpmn", (REFUSED / "link-unmatched.bpmn").read_bytes())],
               engine.now())
    [problem] = refused.value.problems
    assert (problem.element_id, problem.element_kind) == ("Link_ThrowOut", "intermediateThrowEvent")
    assert "no link catch event named 'Outside'" in problem.message
    assert problem.line == 13
    assert Counter(p.element_id for p in refused.value.problems) == Counter(["Link_ThrowOut"])
