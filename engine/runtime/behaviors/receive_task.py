from __future__ import annotations

from engine.runtime.behaviors.base import WaitBehavior


class ReceiveTaskBehavior(WaitBehavior):
    """Waits for its message (correlation belongs to the wait-states machinery)."""
