from __future__ import annotations

from typing import Any

from engine.definitions.cache import graph_of
from engine.graph import Element
from engine.models import Command, ElementInstance, ProcessDefinition, ProcessInstance
from engine.runtime.behaviors.base import Behavior
from engine.runtime.errors import IncidentRaised
from engine.runtime.expr import evaluate, why
from engine.runtime.limits import call_depth, check_call_depth
from engine.runtime.state import InstanceRun
from engine.runtime.tokens import AWAIT_CHILD, complete
from engine.runtime.variables import set_result


def latest_definition(run: InstanceRun, process_id: str, version_tag: str | None = None) -> ProcessDefinition | None:
    """The latest version deployed as of the command's time, so a replay resolves the same version;
    with `version_tag`, the latest carrying that zeebe:versionTag (bindingType="versionTag")."""
    found = ProcessDefinition.objects.filter(tenant_id=run.tenant_id, bpmn_process_id=process_id,
                                             created_at__lte=run.now)
    if version_tag is not None:
        found = found.filter(version_tag=version_tag)
    return found.defer("source").order_by("-version").first()


def called_definition(run: InstanceRun, process_id: str, props: dict[str, Any]) -> ProcessDefinition | None:
    """The version a call activity starts, by `bindingType` (parsed by the rule decisions share,
    engine/bpmn/parser.py `_binding`): deployment (the key fixed at deploy), versionTag, or latest.
    A JSON flow's subflow may pin a version instead."""
    if props.get("processDefinitionKey"):
        return ProcessDefinition.objects.filter(tenant_id=run.tenant_id,
                                                key=int(props["processDefinitionKey"])).defer("source").first()
    if props.get("version"):
        return pinned_definition(run, process_id, props["version"])
    if props.get("bindingType") == "versionTag":
        return latest_definition(run, process_id, props["versionTag"])
    return latest_definition(run, process_id)


def pinned_definition(run: InstanceRun, process_id: str, version: int) -> ProcessDefinition | None:
    return (ProcessDefinition.objects.filter(tenant_id=run.tenant_id, bpmn_process_id=process_id, version=version)
            .defer("source").first())


class CallActivityBehavior(Behavior):
    """Starts a child process instance of `zeebe:calledElement processId` (the version its
    bindingType names: latest, deployment or versionTag) and waits.

    The child is a separate ProcessInstance with its own commands: this run spawns its row and
    sends it CREATE_INSTANCE with the variables it starts with (all visible variables when
    `propagateAllParentVariables`, which is the default, else only the input mappings' locals).
    The child's completion comes back as CHILD_COMPLETED (see `child_completed`); terminating
    the call activity cancels the child, and the call activity stays terminating until the child
    reports its end (CHILD_TERMINATED; engine/runtime/termination.py), as in Camunda 8.
    """

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        props = element.props
        process_id = evaluate(run, ei.key, props["processId"], "CALLED_ELEMENT_ERROR")
        if not isinstance(process_id, str) or not process_id:
            raise IncidentRaised("CALLED_ELEMENT_ERROR", f"Expected the processId of '{element.id}' to be a "
                                                         f"non-empty string, but it was {process_id!r}"
                                                         f"{why(run, ei.key, props['processId'], process_id)}")
        check_call_depth(run, element)
        definition = called_definition(run, process_id, props)
        if definition is None:
            pinned = props.get("version")
            tag = f"with version tag '{props['versionTag']}' " if props.get("bindingType") == "versionTag" else ""
            raise IncidentRaised("CALLED_ELEMENT_ERROR", f"Expected process with BPMN process id '{process_id}' "
                                                         f"{f'version {pinned} ' if pinned else ''}{tag}to be "
                                                         "deployed, but not found.")
        if not graph_of(definition).start_events(None):
            raise IncidentRaised("CALLED_ELEMENT_ERROR", f"Expected process '{process_id}' to have a none start "
                                                         "event, but it has none.")
        if props.get("propagateAllParentVariables", True):
            variables = run.visible_variables(ei.key)
        else:
            variables = {name: var.value for name, var in run.variables.get(ei.key, {}).items()}
        child = ProcessInstance(
            key=run.keys.take(), tenant_id=run.tenant_id, definition_id=definition.key, business_key="",
            state=ProcessInstance.State.ACTIVE, start_date=run.now, parent_instance_key=run.instance.key,
            parent_element_instance_key=ei.key, root_instance_key=run.instance.root_instance_key,
        )
        run.spawned.append(child)
        run.send(child.key, Command.Kind.CREATE_INSTANCE, {"variables": variables, "callDepth": call_depth(run) + 1})
        ei.data["childInstanceKey"] = child.key
        run.record("CHILD_INSTANCE_CREATED", ei, childInstanceKey=str(child.key), processId=process_id,
                   processDefinitionKey=str(definition.key))

    def child_completed(self, run: InstanceRun, ei: ElementInstance, element: Element,
                        variables: dict[str, Any]) -> None:
        """The child completed: its variables come back (all of them unless output mappings or
        `propagateAllChildVariables="false"` say otherwise), then the call activity completes."""
        if element.props.get("outputs"):
            set_result(run, ei, element, variables)  # local: only the output mappings go up
        elif element.props.get("propagateAllChildVariables", True):
            set_result(run, ei, element, variables)
        complete(run, ei)

    def terminate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        child = ei.data.get("childInstanceKey")
        if child is not None and not ei.data.get("childEnded"):
            run.send(child, Command.Kind.CANCEL_INSTANCE, {"reason": "parent call activity terminated",
                                                           "byParent": True})
            ei.data[AWAIT_CHILD] = True  # durable: the child's CHILD_TERMINATED releases it
            run.touch("elements", ei)
