"""One behaviour per element kind; `behavior_for` is the single registry.

The multi-instance body (behaviors/multi_instance.py) wraps any activity that has loop
characteristics; steps.behavior_of picks it for body element instances.
"""

from __future__ import annotations

from engine.model import Element
from engine.runtime.behaviors.base import Behavior
from engine.runtime.behaviors.call_activity import CallActivityBehavior
from engine.runtime.behaviors.end_event import EndEventBehavior
from engine.runtime.behaviors.event_based_gateway import EventBasedGatewayBehavior
from engine.runtime.behaviors.events import (
    BoundaryEventBehavior,
    IntermediateCatchEventBehavior,
    IntermediateThrowEventBehavior,
    StartEventBehavior,
)
from engine.runtime.behaviors.exclusive_gateway import ExclusiveGatewayBehavior
from engine.runtime.behaviors.inclusive_gateway import InclusiveGatewayBehavior
from engine.runtime.behaviors.job_task import JobTaskBehavior
from engine.runtime.behaviors.parallel_gateway import ParallelGatewayBehavior
from engine.runtime.behaviors.process import ProcessBehavior
from engine.runtime.behaviors.receive_task import ReceiveTaskBehavior
from engine.runtime.behaviors.script_task import ScriptTaskBehavior
from engine.runtime.behaviors.subprocess import EventSubProcessBehavior, SubProcessBehavior
from engine.runtime.behaviors.user_task import UserTaskBehavior

BEHAVIORS: dict[str, Behavior] = {
    "process": ProcessBehavior(),
    "startEvent": StartEventBehavior(),
    "endEvent": EndEventBehavior(),
    "intermediateThrowEvent": IntermediateThrowEventBehavior(),
    "intermediateCatchEvent": IntermediateCatchEventBehavior(),
    "boundaryEvent": BoundaryEventBehavior(),
    "serviceTask": JobTaskBehavior(),
    "sendTask": JobTaskBehavior(),
    "businessRuleTask": JobTaskBehavior(),
    "scriptTask": ScriptTaskBehavior(),
    "userTask": UserTaskBehavior(),
    "receiveTask": ReceiveTaskBehavior(),
    "manualTask": Behavior(),
    "task": Behavior(),
    "exclusiveGateway": ExclusiveGatewayBehavior(),
    "parallelGateway": ParallelGatewayBehavior(),
    "inclusiveGateway": InclusiveGatewayBehavior(),
    "eventBasedGateway": EventBasedGatewayBehavior(),
    "subProcess": SubProcessBehavior(),
    "eventSubProcess": EventSubProcessBehavior(),
    "callActivity": CallActivityBehavior(),
}


def behavior_for(element: Element) -> Behavior:
    return BEHAVIORS[element.kind]
