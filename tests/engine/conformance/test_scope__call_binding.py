"""zeebe:calledElement bindingType (Camunda 8), the rule business rule tasks share: latest (default),
deployment (the version deployed with the caller) and versionTag (the latest with zeebe:versionTag)."""

from __future__ import annotations

import pytest

from engine.bpmn import DefinitionError
from engine.definitions.deploy import Resource, deploy
from engine.models import ProcessDefinition
from tests.engine.conformance.harness import BPMN

pytestmark = pytest.mark.django_db


def _child(version: str, tag: str) -> Resource:
    source = (BPMN / "binding-child.bpmn").read_text()
    source = source.replace('=&quot;v1&quot;', f'=&quot;{version}&quot;').replace(
        '<zeebe:versionTag value="stable"/>', f'<zeebe:versionTag value="{tag}"/>')
    return Resource("binding-child.bpmn", source.encode())


def test_deployment_version_tag_and_latest_bindings_call_their_versions(engine):
    engine.deploy("call-binding", "binding-child")  # child v1, tagged stable, deployed with the caller
    deploy(engine.tenant, [_child("v2", "stable")], engine.now())
    deploy(engine.tenant, [_child("v3", "next")], engine.now())
    assert list(ProcessDefinition.objects.filter(bpmn_process_id="binding-child").order_by("version")
                .values_list("version", "version_tag")) == [(1, "stable"), (2, "stable"), (3, "next")]
    key = engine.start("call-binding")
    engine.assert_clean_end(key)
    variables = engine.variables(key)
    assert (variables["deploymentGot"], variables["taggedGot"], variables["latestGot"]) == ("v1", "v2", "v3")


def test_deployment_binding_needs_the_called_process_in_the_same_deployment(engine):
    with pytest.raises(DefinitionError) as refused:
        engine.deploy("call-binding")
    [problem] = refused.value.problems
    assert (problem.element_id, problem.element_kind, problem.line) == ("Call_Deployment", "callActivity", 7)
    assert problem.message == ("zeebe:calledElement bindingType=\"deployment\" needs process 'binding-child' "
                               "in the same deployment")


def test_a_missing_version_tag_is_an_incident_with_the_tag(engine):
    caller = (BPMN / "call-binding.bpmn").read_text().replace('versionTag="stable"', 'versionTag="gone"')
    deploy(engine.tenant, [Resource("call-binding.bpmn", caller.encode()), _child("v1", "stable")], engine.now())
    key = engine.start("call-binding")
    [(element_id, error_type, message)] = engine.incidents(key)
    assert (element_id, error_type) == ("Call_VersionTag", "CALLED_ELEMENT_ERROR")
    assert "with version tag 'gone'" in message


@pytest.mark.parametrize(("attributes", "message"), [
    ('bindingType="versionTag"', 'zeebe:calledElement bindingType="versionTag" needs a versionTag'),
    ('bindingType="pinned"', "zeebe:calledElement bindingType must be latest, deployment or versionTag, got 'pinned'"),
])
def test_bad_bindings_are_refused_with_id_and_line(engine, attributes, message):
    source = (BPMN / "call-binding.bpmn").read_text().replace(
        'bindingType="versionTag" versionTag="stable"', attributes)
    with pytest.raises(DefinitionError) as refused:
        deploy(engine.tenant, [Resource("call-binding.bpmn", source.encode())], engine.now())
    [problem] = refused.value.problems
    assert (problem.element_id, problem.line, problem.message) == ("Call_VersionTag", 17, message)
