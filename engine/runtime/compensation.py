"""Compensation in Camunda 8's semantics: remember completed compensable activities, invoke their handlers.

When an activity with a compensation boundary event completes, an entry is appended to the
`compensable` list in the data of its flow scope's element instance (the row the same batch
flushes, so the record survives a crash like every other engine state). An embedded subprocess,
event subprocess or multi-instance body carries the entries of what completed inside it into its
own entry when it completes; a terminated scope drops them, so only completed work is compensated.

A compensation throw event (intermediate or end) takes the entries of its scope — the outer scope
when it is inside an event subprocess — or only those of its `activityRef`, and activates every
handler as a child of itself, the most recently completed first (so handlers that finish at once
run in reverse order of completion). It then waits: it is a scope for its handlers and completes,
through the ordinary scope check, when the last one completed. Each entry is consumed: an activity
is compensated once per completion. Call activities stop compensation: a child instance's handlers
are not invoked.
"""

from __future__ import annotations

from typing import Any

from engine.graph import ACTIVITY_KINDS, Element
from engine.models import ElementInstance
from engine.runtime import tokens
from engine.runtime.errors import IncidentRaised
from engine.runtime.state import InstanceRun

COMPENSABLE = "compensable"


def remember(run: InstanceRun, ei: ElementInstance, element: Element) -> None:
    """An element instance completed: note it in its flow scope if it (or something inside it) is compensable."""
    if ei.flow_scope_key is None or element.props.get("forCompensation"):
        return
    if element.kind not in ACTIVITY_KINDS and element.kind != "eventSubProcess":
        return
    scope = run.elements.get(ei.flow_scope_key)
    if scope is None or scope.state != tokens.ACTIVE:
        return
    # One instance of a multi-instance activity brings only what completed inside it: the handler of a
    # multi-instance activity is invoked once, for the body.
    handler = None if tokens.is_inner(run, ei) else run.graph.compensation_handler(element.id)
    nested = ei.data.pop(COMPENSABLE, None) or []
    if handler is None and not nested:
        return
    scope.data.setdefault(COMPENSABLE, []).append({"e": element.id, "k": str(ei.key), "h": handler, "sub": nested})
    run.touch("elements", scope)


def _handlers(entry: dict[str, Any], out: list[dict[str, Any]]) -> None:
    """The entries with a handler in an entry's tree, latest completion first (the entry's own first)."""
    if entry["h"]:
        out.append(entry)
    for sub in reversed(entry["sub"]):
        _handlers(sub, out)


def throw(run: InstanceRun, thrower: ElementInstance, element: Element) -> bool:
    """Invoke the handlers a compensation throw event compensates; False when there is none to wait for."""
    scope = run.elements[thrower.flow_scope_key]  # type: ignore[index]
    if run.element(scope.element_id).kind == "eventSubProcess" and scope.flow_scope_key is not None:
        scope = run.elements[scope.flow_scope_key]  # thrown in an event subprocess: its outer scope
    entries: list[dict[str, Any]] = scope.data.get(COMPENSABLE, [])
    ref = (element.props.get("event") or {}).get("activityRef")
    chosen = [x for x in entries if ref is None or x["e"] == ref]
    found: list[dict[str, Any]] = []
    for entry in reversed(chosen):
        if ref is not None:
            found.append(entry)  # one activity: its own handler (activityRef requires one)
        else:
            _handlers(entry, found)
    # The handler of the definition the instance runs now (a migration may have moved it since the
    # activity completed); checked before anything changes, so a resolved incident can throw again.
    handlers = [run.graph.compensation_handler(x["e"]) if x["e"] in run.graph.elements else None for x in found]
    missing = [x["e"] for x, h in zip(found, handlers, strict=True) if h is None]
    if missing:
        raise IncidentRaised("UNKNOWN", f"cannot compensate {', '.join(sorted(set(missing)))}: the process "
                             "definition the instance runs has no compensation handler for it")
    if chosen:
        scope.data[COMPENSABLE] = [x for x in entries if ref is not None and x["e"] != ref]
        run.touch("elements", scope)
    run.record("COMPENSATION_THROWN", thrower, activityRef=ref,
               compensated=[{"elementId": x["e"], "key": x["k"], "handler": h} for x, h in zip(found, handlers,
                                                                                               strict=True)])
    for handler in handlers:
        tokens.activate(run, run.graph.elements[handler], thrower.key)  # type: ignore[index]
    return bool(found)
