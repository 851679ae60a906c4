from __future__ import annotations

from engine.graph import Element
from engine.models import ElementInstance
from engine.runtime.behaviors.base import Behavior
from engine.runtime.behaviors.job_task import JobTaskBehavior
from engine.runtime.expr import evaluate
from engine.runtime.state import InstanceRun
from engine.runtime.tokens import complete
from engine.runtime.variables import set_result

_JOB = JobTaskBehavior()


class ScriptTaskBehavior(Behavior):
    """`zeebe:script`: evaluate the expression, store it in `resultVariable`, complete at once.

    A script task with a `zeebe:taskDefinition` instead is a job for a worker.
    """

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        props = element.props
        if "script" not in props:
            _JOB.activate(run, ei, element)
            return
        value = evaluate(run, ei.key, props["script"])
        set_result(run, ei, element, {props["resultVariable"]: value})
        complete(run, ei)

    def terminate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        if "script" not in element.props:
            _JOB.terminate(run, ei, element)
