"""Start, intermediate and boundary events. End events live in end_event.py."""

from __future__ import annotations

from engine.runtime.behaviors.base import Behavior, WaitBehavior


class StartEventBehavior(Behavior):
    """A start event passes the token on (its trigger, if any, already happened)."""


class IntermediateThrowEventBehavior(Behavior):
    """None intermediate throw event: passes the token on (message throw events are jobs)."""


class IntermediateCatchEventBehavior(WaitBehavior):
    """Message, timer or signal intermediate catch event: waits for its trigger."""


class BoundaryEventBehavior(Behavior):
    """Activated by its trigger (error, message, timer); then it passes the token on."""
