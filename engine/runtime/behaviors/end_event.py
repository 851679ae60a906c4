from __future__ import annotations

from engine.graph import Element
from engine.models import ElementInstance
from engine.runtime import compensation
from engine.runtime.behaviors.base import Behavior
from engine.runtime.behaviors.events import throw
from engine.runtime.behaviors.job_task import JobTaskBehavior
from engine.runtime.catching import throw_error
from engine.runtime.expr import evaluate_string
from engine.runtime.state import InstanceRun
from engine.runtime.termination import interrupt_scope, wait_then
from engine.runtime.tokens import complete

_JOB = JobTaskBehavior()


class EndEventBehavior(Behavior):
    """End events by their definition.

    - none: consumes the token; the scope completes when no token is left.
    - terminate: terminates every other token of its flow scope, which then completes.
    - error: throws the error to the nearest catching boundary event or event subprocess,
      else an UNHANDLED_ERROR_EVENT incident on this end event.
    - message: a job for a worker (Camunda 8), like a send task.
    - compensation: invokes the handlers of the completed activities of its scope (or of its
      activityRef) and ends when they all completed (engine/runtime/compensation.py).
    - signal, escalation: thrown (behaviors/events.py `throw`), then it ends like a none end event.
    """

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        event = element.props.get("event") or {}
        kind = event.get("type")
        if kind == "terminate":
            scope = run.elements[ei.flow_scope_key]  # type: ignore[index]
            if not interrupt_scope(run, scope, keep=ei.key):
                wait_then(run, scope, {})  # it completes once the tokens it terminated are gone
            complete(run, ei)
        elif kind == "error":
            code = evaluate_string(run, ei.key, event["errorCode"], "the error code")
            throw_error(run, ei, code)
        elif kind == "compensation":
            if not compensation.throw(run, ei, element):
                complete(run, ei)
        elif "jobType" in element.props:
            _JOB.activate(run, ei, element)
        elif kind in ("signal", "escalation"):
            throw(run, ei, element)
        else:
            complete(run, ei)

    def terminate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        if "jobType" in element.props:
            _JOB.terminate(run, ei, element)
