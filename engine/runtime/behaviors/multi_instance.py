from __future__ import annotations

from typing import Any

from engine.graph import Element
from engine.models import ElementInstance
from engine.runtime import budget
from engine.runtime.behaviors.base import Behavior
from engine.runtime.errors import IncidentRaised
from engine.runtime.expr import evaluate, evaluate_condition, why
from engine.runtime.limits import check_collection
from engine.runtime.state import InstanceRun
from engine.runtime.termination import interrupt_scope, wait_then
from engine.runtime.tokens import activate, complete


class MultiInstanceBehavior(Behavior):
    """The multi-instance body around any activity with `zeebe:loopCharacteristics`.

    The body (element type MULTI_INSTANCE_BODY) evaluates `inputCollection` once and runs
    one inner instance of the activity per item: all at once (parallel) or one after the
    other (sequential). Each inner instance gets the local variables `loopCounter` (1-based)
    and `inputElement`; its input/output mappings apply per inner instance. `outputElement`
    is evaluated when an inner instance completes and stored at its position in the body's
    local `outputCollection`, which goes to the enclosing scope when the body completes.
    `completionCondition` is evaluated after each inner completion (with numberOfInstances,
    numberOfCompletedInstances, numberOfActiveInstances, numberOfTerminatedInstances) and,
    when true, terminates the remaining instances and completes the body.
    """

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        loop = element.props["loop"]
        items = evaluate(run, ei.key, loop["inputCollection"])
        if not isinstance(items, list):
            raise IncidentRaised("EXTRACT_VALUE_ERROR", f"Expected the inputCollection of '{element.id}' to be a "
                                                        f"list, but it was {type(items).__name__}: {items!r}"
                                                        f"{why(run, ei.key, loop['inputCollection'], items)}")
        check_collection(element, items)
        ei.data.update(total=len(items), completed=0, terminated=0)
        if loop["sequential"]:
            ei.data["items"] = items
            ei.data["next"] = 1
        if loop.get("outputCollection"):
            run.set_local_variable(ei.key, loop["outputCollection"], [None] * len(items))
        if not items:
            complete(run, ei)
            return
        for index, item in enumerate(items[:1] if loop["sequential"] else items):
            self._start(run, ei, element, index, item)

    def _start(self, run: InstanceRun, body: ElementInstance, element: Element, index: int, item: Any) -> None:
        locals_ = {"loopCounter": index + 1}
        if element.props["loop"].get("inputElement"):
            locals_[element.props["loop"]["inputElement"]] = item
        activate(run, element, body.key, locals_=locals_, inner=True)

    def inner_completing(self, run: InstanceRun, body: ElementInstance, inner: ElementInstance,
                         element: Element) -> bool:
        """Before an inner instance completes: collect its output; True if the completion condition holds."""
        loop = element.props["loop"]
        counter = run.variables[inner.key]["loopCounter"].value
        if loop.get("outputElement"):
            value = evaluate(run, inner.key, loop["outputElement"])
            name = loop["outputCollection"]
            collection = list(run.variables[body.key][name].value)
            collection[counter - 1] = value
            run.set_local_variable(body.key, name, collection)
        if not loop.get("completionCondition"):
            return False
        completed = body.data["completed"] + 1
        active = len(run.active_children(body.key)) + run.inflight.get(body.key, 0) - 1
        counters = {"numberOfInstances": body.data["total"], "numberOfCompletedInstances": completed,
                    "numberOfActiveInstances": active, "numberOfTerminatedInstances": body.data["terminated"]}
        return evaluate_condition(run, inner.key, loop["completionCondition"], extra=counters)

    def inner_completed(self, run: InstanceRun, body: ElementInstance, inner: ElementInstance, element: Element,
                        condition_met: bool) -> None:
        body.data["completed"] += 1
        run.touch("elements", body)
        if condition_met:
            body.data["terminated"] += len(run.active_children(body.key))
            if interrupt_scope(run, body):
                complete(run, body)
            else:
                wait_then(run, body, {"complete": True})  # once its canceling task listeners are done
            return
        if element.props["loop"]["sequential"]:
            index = body.data["next"]
            if index < body.data["total"]:
                body.data["next"] = index + 1
                self._start(run, body, element, index, body.data["items"][index])
                return
        elif run.active_children(body.key) or run.inflight.get(body.key) or budget.holds(run, body.key):
            return  # instances still running, queued, or parked by a runaway incident
        complete(run, body)

    def before_complete(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        name = element.props["loop"].get("outputCollection")
        if name and ei.flow_scope_key is not None:
            run.propagate_variables(ei.flow_scope_key, {name: run.variables[ei.key][name].value})


MULTI_INSTANCE = MultiInstanceBehavior()
