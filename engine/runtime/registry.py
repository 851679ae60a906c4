"""Which behaviour an element instance has: the one registry of element kinds.

Behaviours register when `engine.runtime.behaviors` is imported (the executor in
`steps.py` imports it). Code below the behaviours — termination, catching — looks a
behaviour up here instead of importing the behaviours, so the runtime's imports stay a DAG.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.graph import Element
from engine.models import ElementInstance
from engine.runtime.tokens import MULTI_INSTANCE_BODY

if TYPE_CHECKING:
    from engine.runtime.behaviors.base import Behavior

_BEHAVIORS: dict[str, Behavior] = {}


def register(kind: str, behavior: Behavior) -> None:
    _BEHAVIORS[kind] = behavior


def behavior_for(element: Element) -> Behavior:
    """The behaviour of an element kind (a multi-instance body is registered as MULTI_INSTANCE_BODY)."""
    return _BEHAVIORS[element.kind]


def behavior_of(ei: ElementInstance, element: Element) -> Behavior:
    """The behaviour of an element instance: the multi-instance body wraps an activity with a loop."""
    if ei.element_type == MULTI_INSTANCE_BODY:
        return _BEHAVIORS[MULTI_INSTANCE_BODY]
    return _BEHAVIORS[element.kind]
