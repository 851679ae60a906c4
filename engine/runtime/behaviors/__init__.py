"""One behaviour per element kind, registered in `engine/runtime/registry.py` on import.

The multi-instance body (behaviors/multi_instance.py) wraps any activity that has loop
characteristics; it is registered under the body's element type, MULTI_INSTANCE_BODY.
"""

from __future__ import annotations

from engine.runtime.behaviors.base import Behavior
from engine.runtime.behaviors.business_rule_task import BusinessRuleTaskBehavior
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
from engine.runtime.behaviors.multi_instance import MULTI_INSTANCE
from engine.runtime.behaviors.parallel_gateway import ParallelGatewayBehavior
from engine.runtime.behaviors.process import ProcessBehavior
from engine.runtime.behaviors.receive_task import ReceiveTaskBehavior
from engine.runtime.behaviors.script_task import ScriptTaskBehavior
from engine.runtime.behaviors.subprocess import AdHocSubProcessBehavior, EventSubProcessBehavior, SubProcessBehavior
from engine.runtime.behaviors.user_task import UserTaskBehavior
from engine.runtime.registry import register
from engine.runtime.tokens import MULTI_INSTANCE_BODY

BEHAVIORS: dict[str, Behavior] = {
    "process": ProcessBehavior(),
    "startEvent": StartEventBehavior(),
    "endEvent": EndEventBehavior(),
    "intermediateThrowEvent": IntermediateThrowEventBehavior(),
    "intermediateCatchEvent": IntermediateCatchEventBehavior(),
    "boundaryEvent": BoundaryEventBehavior(),
    "serviceTask": JobTaskBehavior(),
    "sendTask": JobTaskBehavior(),
    "businessRuleTask": BusinessRuleTaskBehavior(),
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
    "adHocSubProcess": AdHocSubProcessBehavior(),
    "callActivity": CallActivityBehavior(),
    MULTI_INSTANCE_BODY: MULTI_INSTANCE,
}

for _kind, _behavior in BEHAVIORS.items():
    register(_kind, _behavior)

