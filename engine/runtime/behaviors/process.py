from __future__ import annotations

from engine.graph import Element
from engine.models import Command, ElementInstance, ProcessInstance
from engine.runtime.behaviors.base import Behavior
from engine.runtime.state import InstanceRun
from engine.runtime.tokens import activate, end_instance


class ProcessBehavior(Behavior):
    """The process scope: starts at its none start event, completes when no token is left.

    A child instance (started by a call activity) reports its completion, with its
    variables, to the parent instance by a command.
    """

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        start = run.graph.start_events(None)[0]
        activate(run, start, ei.key)

    def after_complete(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        end_instance(run, ProcessInstance.State.COMPLETED)
        parent = run.instance.parent_instance_key
        if parent is not None:
            variables = {name: var.value for name, var in run.variables.get(ei.key, {}).items()}
            run.send(parent, Command.Kind.CHILD_COMPLETED, {
                "elementInstanceKey": str(run.instance.parent_element_instance_key),
                "childInstanceKey": str(run.instance.key),
                "variables": variables,
            })
