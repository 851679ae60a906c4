from __future__ import annotations

from engine.runtime.behaviors.base import WaitBehavior


class EventBasedGatewayBehavior(WaitBehavior):
    """Waits for the first of the catch events after it to be triggered; that event's flow is taken
    and the others are withdrawn. The race itself (subscriptions, timers) is the wait-states machinery's."""
