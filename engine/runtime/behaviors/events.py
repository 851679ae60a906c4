from __future__ import annotations

from engine.runtime.behaviors.base import Behavior


class StartEventBehavior(Behavior):
    """None start event: passes the token on."""


class EndEventBehavior(Behavior):
    """None end event: consumes the token (it has no outgoing flows)."""
