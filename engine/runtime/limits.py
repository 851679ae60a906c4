"""Ceilings on what one element may unleash: multi-instance collections and call-activity depth.

Both end in an incident on the element (resolvable once the data is fixed or, for the
depth, the called process no longer recurses), never in an engine worker busy forever:
a collection of a million items would create a million element instances at once, and a
process that calls itself would create new instances without end. The step budget
(budget.py) and the timer cycle minimum (engine/timers/schedule.py) cover the rest.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from engine.graph import Element
from engine.runtime.errors import IncidentRaised
from engine.runtime.state import InstanceRun


def check_collection(element: Element, items: list[Any]) -> None:
    limit = settings.ENGINE_MAX_COLLECTION
    if len(items) > limit:
        raise IncidentRaised("EXTRACT_VALUE_ERROR", f"The inputCollection of '{element.id}' has {len(items)} items, "
                                                    f"more than the limit of {limit} "
                                                    "(FLOWSYNC_ENGINE_MAX_COLLECTION)")


def call_depth(run: InstanceRun) -> int:
    """How many call activities above this instance (0 for an instance started on its own)."""
    process_ei = run.elements.get(run.instance.key)
    return int(process_ei.data.get("callDepth", 0)) if process_ei is not None else 0


def check_call_depth(run: InstanceRun, element: Element) -> None:
    limit = settings.ENGINE_MAX_CALL_DEPTH
    if call_depth(run) + 1 > limit:
        raise IncidentRaised("CALLED_ELEMENT_ERROR", f"'{element.id}' would start a child instance at call depth "
                                                     f"{call_depth(run) + 1}, more than the limit of {limit} "
                                                     "(FLOWSYNC_ENGINE_MAX_CALL_DEPTH): does the process call "
                                                     "itself?")
