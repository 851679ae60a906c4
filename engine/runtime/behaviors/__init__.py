"""One behaviour per element kind; `behavior_for` is the single registry."""

from __future__ import annotations

from engine.model import Element
from engine.runtime.behaviors.base import Behavior
from engine.runtime.behaviors.events import EndEventBehavior, StartEventBehavior
from engine.runtime.behaviors.job_task import JobTaskBehavior
from engine.runtime.behaviors.process import ProcessBehavior

BEHAVIORS: dict[str, Behavior] = {
    "process": ProcessBehavior(),
    "startEvent": StartEventBehavior(),
    "endEvent": EndEventBehavior(),
    "serviceTask": JobTaskBehavior(),
}


def behavior_for(element: Element) -> Behavior:
    return BEHAVIORS[element.kind]
