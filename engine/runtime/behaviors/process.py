from __future__ import annotations

from typing import TYPE_CHECKING

from engine.model import Element
from engine.models import ElementInstance
from engine.runtime.behaviors.base import Behavior

if TYPE_CHECKING:
    from engine.runtime.state import InstanceRun


class ProcessBehavior(Behavior):
    """The process scope: starts at its none start event, completes when no token is left."""

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        from engine.runtime.steps import activate

        start = run.graph.start_events(None)[0]
        activate(run, start, ei.key)
