from __future__ import annotations

from typing import TYPE_CHECKING

from engine.model import Element, Flow
from engine.models import ElementInstance

if TYPE_CHECKING:
    from engine.runtime.state import InstanceRun


class Behavior:
    """Defaults: a pass-through element that completes at once and takes all outgoing flows."""

    def arrive(self, run: InstanceRun, element: Element, scope_key: int, flow: Flow | None) -> None:
        """A token arrives over `flow`; most elements simply activate (joins count first)."""
        from engine.runtime.steps import activate

        activate(run, element, scope_key, flow.id if flow else None)

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        from engine.runtime.steps import complete

        complete(run, ei)

    def before_complete(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        """Last chance to act (output mappings) before the instance is marked completed."""

    def outgoing(self, run: InstanceRun, ei: ElementInstance, element: Element) -> list[Flow]:
        return [run.graph.flows[f] for f in element.outgoing]

    def terminate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        """Withdraw what the element waits on (jobs, subscriptions)."""
