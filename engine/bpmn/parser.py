"""Walk a BPMN document and build one Graph per executable process.

Every element of the process is either handled by an entry of ELEMENT_PARSERS or
reported as unsupported: nothing is silently ignored. Every expression is compiled
here, once, so that a bad one fails the deployment with the element id, the
attribute and the text; the Graph keeps the (normalized) source text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

import engine.bpmn.zeebe as zeebe
from engine import expressions
from engine.bpmn.errors import DefinitionError, Problem
from engine.bpmn.xml import BPMN_NS, local, ns, parse_xml
from engine.graph import ACTIVITY_KINDS, Element, Flow, Graph

B = f"{{{BPMN_NS}}}"

# Process-level elements that are not flow nodes and need no behaviour.
_NON_FLOW = {"laneSet", "documentation", "extensionElements", "textAnnotation", "association", "dataObject",
             "dataObjectReference", "dataStoreReference", "group", "property", "ioSpecification",
             "dataInputAssociation", "dataOutputAssociation", "incoming", "outgoing", "category",
             "multiInstanceLoopCharacteristics", "standardLoopCharacteristics", "completionCondition"}

_EVENT_DEFINITIONS = {
    "messageEventDefinition": "message", "timerEventDefinition": "timer", "errorEventDefinition": "error",
    "signalEventDefinition": "signal", "terminateEventDefinition": "terminate",
    "escalationEventDefinition": "escalation", "compensateEventDefinition": "compensation",
    "conditionalEventDefinition": "conditional", "linkEventDefinition": "link", "cancelEventDefinition": "cancel",
}

# Which event definitions each event kind supports (None = the none event).
_ALLOWED_EVENTS: dict[str, set[str | None]] = {
    "startEvent": {None, "message", "timer", "signal", "error", "escalation"},
    "endEvent": {None, "terminate", "error", "message", "signal", "escalation", "compensation"},
    "intermediateThrowEvent": {None, "message", "signal", "escalation", "link", "compensation"},
    "intermediateCatchEvent": {"message", "timer", "signal", "link"},
    "boundaryEvent": {"error", "message", "timer", "signal", "escalation", "compensation"},
}


class _Context:
    def __init__(self, resource_name: str, root: etree._Element):
        self.resource_name = resource_name
        self.root = root
        self.problems: list[Problem] = []
        self.errors = {e.get("id"): e for e in root.findall(f"{B}error")}
        self.messages = {m.get("id"): m for m in root.findall(f"{B}message")}
        self.signals = {s.get("id"): s for s in root.findall(f"{B}signal")}
        self.escalations = {e.get("id"): e for e in root.findall(f"{B}escalation")}

    def problem(self, message: str, el: etree._Element | None = None, line: int | None = None) -> None:
        self.problems.append(
            Problem(
                message,
                element_id=el.get("id") if el is not None else None,
                element_kind=local(el.tag) if el is not None else None,
                line=line or (el.sourceline if el is not None else None),
            )
        )

    def expression(self, el: etree._Element, attribute: str, text: str, kind: str = "value",
                   language: str | None = None, line: int | None = None) -> str | None:
        """Compile an expression (or leave static text alone); return the text to store, None if invalid."""
        stripped = text.strip()
        try:
            if kind == "condition":
                expressions.compile_condition(stripped, language)
            elif kind == "feel" or stripped.startswith("="):
                if not stripped.startswith("="):
                    stripped = "=" + stripped  # io mapping sources are always expressions
                expressions.compile_value(stripped)
        except expressions.ExpressionError as exc:
            where = f" at column {exc.column}" if exc.column else ""
            self.problem(f"{attribute}: {exc.message}{where} in expression '{text}'", el, line)
            return None
        return stripped


# Conditional events came with Camunda 8.9; FlowSync's API follows Camunda 8.8 (it refuses the other
# 8.9 additions too), and a half-built version would miss triggers: Camunda re-evaluates every
# conditional subscription in scope on each variable change (job completion, set-variables, output
# mappings, ...) with variable filters, and starts root-level ones through an API of its own.
_CONDITIONAL_REFUSED = (
    "a {tag} with conditionalEventDefinition is not supported: conditional events are Camunda 8.9, and "
    "FlowSync follows Camunda 8.8, which refuses them too; model the condition as a message event "
    "correlated by whoever changes the variables, or an exclusive gateway before a timer loop"
)

# -- pieces shared by several element kinds ------------------------------------------------------


def _event_definition(el: etree._Element, ctx: _Context) -> tuple[bool, dict[str, Any]]:
    """(ok, props) of the element's event definition; props["event"] is absent for a none event."""
    tag = local(el.tag)
    defs = [c for c in el if ns(c.tag) == BPMN_NS and local(c.tag) in _EVENT_DEFINITIONS]
    if len(defs) > 1:
        ctx.problem(f"a {tag} with several event definitions (multiple events) is not supported", el)
        return False, {}
    if not defs:
        if None not in _ALLOWED_EVENTS[tag]:
            ctx.problem(f"a {tag} needs an event definition", el)
            return False, {}
        return True, {}
    definition = defs[0]
    kind = _EVENT_DEFINITIONS[local(definition.tag)]
    if kind not in _ALLOWED_EVENTS[tag]:
        if kind == "compensation" and tag == "startEvent":
            # Camunda 8 has no compensation start event: an event subprocess throws compensation instead.
            ctx.problem("a compensation start event (compensation event subprocess) is not supported; throw "
                        "compensation from an error or message event subprocess instead", el)
        elif kind == "conditional":
            ctx.problem(_CONDITIONAL_REFUSED.format(tag=tag), el)
        else:
            ctx.problem(f"a {tag} with {local(definition.tag)} is not supported", el)
        return False, {}
    event: dict[str, Any] = {"type": kind}
    ok = True
    if kind == "message":
        ok = _message_ref(el, definition.get("messageRef"), event, ctx)
    elif kind == "timer":
        ok = _timer(el, definition, event, ctx)
    elif kind == "signal":
        signal = ctx.signals.get(definition.get("signalRef"))
        if signal is None or not signal.get("name"):
            ctx.problem("the signal event does not reference a bpmn:signal with a name", el)
            return False, {}
        name = ctx.expression(el, "signal name", signal.get("name", ""))
        ok = name is not None
        event["signalName"] = name
    elif kind == "error":
        ok = _error_ref(el, definition.get("errorRef"), event, ctx, throwing=tag == "endEvent")
    elif kind == "compensation" and tag != "boundaryEvent":
        if definition.get("waitForCompletion", "true").strip().lower() == "false":
            # Camunda 8's compensation throw event always waits until every handler it invoked completed.
            ctx.problem("a compensation throw event with waitForCompletion=\"false\" is not supported "
                        "(the throw event always waits for its handlers)", el)
            ok = False
        event["activityRef"] = (definition.get("activityRef") or "").strip() or None
    elif kind == "escalation":
        ok = _escalation_ref(el, definition.get("escalationRef"), event, ctx,
                             throwing=tag in ("endEvent", "intermediateThrowEvent"))
    elif kind == "link":
        name = (definition.get("name") or "").strip()
        if not name:
            ctx.problem("a link event needs a name (linkEventDefinition name=\"...\")", el)
            return False, {}
        event["linkName"] = name
    return ok, {"event": event}


def _escalation_ref(el: etree._Element, ref: str | None, event: dict[str, Any], ctx: _Context,
                    throwing: bool) -> bool:
    """Camunda 8: a throw event needs an escalation with a code (static or an expression); a catch
    event without a reference (or with an escalation without a code) catches every escalation."""
    escalation = ctx.escalations.get(ref) if ref else None
    if ref and escalation is None:
        ctx.problem(f"escalationRef '{ref}' does not name a bpmn:escalation", el)
        return False
    code = (escalation.get("escalationCode") or "").strip() if escalation is not None else ""
    if throwing:
        if not code:
            ctx.problem("an escalation throw event needs a bpmn:escalation with an escalationCode", el)
            return False
        checked = ctx.expression(el, "escalationCode", code)
        if checked is None:
            return False
        event["escalationCode"] = checked
        return True
    if code.startswith("="):
        ctx.problem("the escalationCode of a catching escalation event must be static", el)
        return False
    if code:
        event["escalationCode"] = code
    return True


def _message_ref(el: etree._Element, ref: str | None, event: dict[str, Any], ctx: _Context) -> bool:
    message = ctx.messages.get(ref) if ref else None
    if message is None or not message.get("name"):
        if local(el.tag) in ("endEvent", "intermediateThrowEvent"):
            return True  # a message throw event is a job; it needs no message
        ctx.problem("the message event does not reference a bpmn:message with a name", el)
        return False
    name = ctx.expression(el, "message name", message.get("name", ""))
    event["messageName"] = name
    key = zeebe.subscription(message)
    if key:
        event["correlationKey"] = ctx.expression(el, "zeebe:subscription correlationKey", key, kind="feel")
    return name is not None and (not key or event["correlationKey"] is not None)


def _timer(el: etree._Element, definition: etree._Element, event: dict[str, Any], ctx: _Context) -> bool:
    for kind in ("timeDate", "timeDuration", "timeCycle"):
        found = definition.find(f"{B}{kind}")
        if found is not None and (found.text or "").strip():
            text = ctx.expression(el, kind, found.text or "")
            event[kind] = text
            return text is not None
    ctx.problem("the timer event needs a timeDate, timeDuration or timeCycle", el)
    return False


def _error_ref(el: etree._Element, ref: str | None, event: dict[str, Any], ctx: _Context, throwing: bool) -> bool:
    error = ctx.errors.get(ref) if ref else None
    code = error.get("errorCode", "") if error is not None else ""
    if throwing:
        if not code.strip():
            ctx.problem("an error end event needs a bpmn:error with an errorCode", el)
            return False
        text = ctx.expression(el, "errorCode", code)
        event["errorCode"] = text
        return text is not None
    if code.strip().startswith("="):
        ctx.problem("the errorCode of a catching error event must be static text, not an expression", el)
        return False
    event["errorCode"] = code.strip() or None  # None catches every error
    return True


def _io(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    """zeebe:ioMapping with every source compiled; None if one is invalid."""
    mappings = zeebe.io_mapping(el)
    ok = True
    for key, mapping_list in mappings.items():
        for m in mapping_list:
            line = m.pop("line", None)
            if not m["target"].strip():
                ctx.problem(f"a zeebe:{key[:-1]} mapping has no target", el, line)
                ok = False
                continue
            # Camunda 8: an input source without "=" is a static string value (connector templates
            # write `source="GET"`); an output source is always an expression.
            source = ctx.expression(el, f"zeebe:{key[:-1]} source (target '{m['target']}')", m["source"] or "=null",
                                    kind="value" if key == "inputs" else "feel", line=line)
            if source is None:
                ok = False
            m["source"] = source
    return mappings if ok else None


def _activity(el: etree._Element, ctx: _Context, props: dict[str, Any] | None) -> dict[str, Any] | None:
    """Everything every activity may carry: io mappings and multi-instance characteristics."""
    if props is None:
        return None
    io = _io(el, ctx)
    if io is None:
        return None
    props.update(io)
    if el.get("isForCompensation", "false").strip().lower() == "true":
        props["forCompensation"] = True  # every activity kind may be a handler in Camunda 8
    if el.find(f"{B}standardLoopCharacteristics") is not None:
        ctx.problem("standard loops (standardLoopCharacteristics) are not supported; use multi-instance", el)
        return None
    mi = el.find(f"{B}multiInstanceLoopCharacteristics")
    if mi is not None:
        loop = _multi_instance(el, mi, ctx)
        if loop is None:
            return None
        props["loop"] = loop
    return props


def _multi_instance(el: etree._Element, mi: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    if mi.find(f"{B}loopCardinality") is not None:
        ctx.problem("multi-instance loopCardinality is not supported; use zeebe:loopCharacteristics inputCollection",
                    el)
        return None
    chars = zeebe.loop_characteristics(mi)
    if chars is None or not chars["inputCollection"].strip():
        ctx.problem("a multi-instance activity needs <zeebe:loopCharacteristics inputCollection=\"=...\">", el)
        return None
    loop: dict[str, Any] = {"sequential": mi.get("isSequential", "false").lower() == "true"}
    loop["inputCollection"] = ctx.expression(el, "zeebe:loopCharacteristics inputCollection",
                                             chars["inputCollection"], kind="feel")
    loop["inputElement"] = chars["inputElement"].strip() or None
    loop["outputCollection"] = chars["outputCollection"].strip() or None
    loop["outputElement"] = None
    if chars["outputElement"].strip():
        loop["outputElement"] = ctx.expression(el, "zeebe:loopCharacteristics outputElement",
                                               chars["outputElement"], kind="feel")
    if bool(loop["outputCollection"]) != bool(chars["outputElement"].strip()):
        ctx.problem("zeebe:loopCharacteristics outputCollection and outputElement go together", el)
        return None
    cond = mi.find(f"{B}completionCondition")
    loop["completionCondition"] = None
    if cond is not None and (cond.text or "").strip():
        loop["completionCondition"] = ctx.expression(el, "completionCondition", cond.text or "", kind="condition")
        if loop["completionCondition"] is None:
            return None
    if loop["inputCollection"] is None or (chars["outputElement"].strip() and loop["outputElement"] is None):
        return None
    return loop


def _job(el: etree._Element, ctx: _Context, what: str) -> dict[str, Any] | None:
    td = zeebe.task_definition(el)
    if td is None or not td["type"].strip():
        ctx.problem(f"{what} needs <zeebe:taskDefinition type=\"...\"> with a job type", el)
        return None
    retries = td["retries"].strip()
    if not retries.startswith("=") and not retries.lstrip("-").isdigit():
        ctx.problem(f"zeebe:taskDefinition retries must be a number or an expression, got '{retries}'", el)
        return None
    job_type = ctx.expression(el, "zeebe:taskDefinition type", td["type"])
    retries_text = ctx.expression(el, "zeebe:taskDefinition retries", retries)
    if job_type is None or retries_text is None:
        return None
    return {"jobType": job_type, "retries": retries_text, "headers": zeebe.task_headers(el)}


# Camunda 8.8's user task listener events (all of them run).
TASK_LISTENER_EVENTS = ("creating", "assigning", "updating", "completing", "canceling")


def _listeners(el: etree._Element, ctx: _Context, kind: str, tag: str = "executionListener",
               events: tuple[str, ...] = ("start", "end")) -> dict[str, list[dict[str, str]]] | None:
    """`zeebe:executionListeners` (or `zeebe:taskListeners`) as {event: [{"type", "retries"}]}, expressions compiled.

    Execution listeners are refused where Camunda 8 does not run them: start listeners of a boundary
    event (it is activated by its trigger) and end listeners of an error end event (it throws instead).
    """
    found: dict[str, list[dict[str, str]]] = {}
    ok = True
    listed = zeebe.execution_listeners(el) if tag == "executionListener" else zeebe.task_listeners(el)
    for listener in listed:
        event, line = listener["eventType"], listener["line"]
        if event not in events:
            allowed = " or ".join(events) if tag == "executionListener" else ", ".join(events)
            ctx.problem(f"zeebe:{tag} eventType must be {allowed}, got '{event}'", el, line)
            ok = False
            continue
        if event == "start" and kind == "boundaryEvent":
            ctx.problem("start execution listeners are not supported on a boundary event", el, line)
            ok = False
            continue
        if event == "end" and kind == "endEvent" and el.find(f"{B}errorEventDefinition") is not None:
            ctx.problem("end execution listeners are not supported on an error end event", el, line)
            ok = False
            continue
        if not listener["type"].strip():
            ctx.problem(f"a zeebe:{tag} needs a job type", el, line)
            ok = False
            continue
        retries = listener["retries"].strip() or "3"
        if not retries.startswith("=") and not retries.lstrip("-").isdigit():
            ctx.problem(f"zeebe:{tag} retries must be a number or an expression, got '{retries}'", el, line)
            ok = False
            continue
        job_type = ctx.expression(el, f"zeebe:{tag} type", listener["type"], line=line)
        retries_text = ctx.expression(el, f"zeebe:{tag} retries", retries, line=line)
        if job_type is None or retries_text is None:
            ok = False
            continue
        found.setdefault(event, []).append({"type": job_type, "retries": retries_text})
    return found if ok else None


# -- element parsers ------------------------------------------------------------------------------


def _start_event(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    ok, props = _event_definition(el, ctx)
    if not ok:
        return None
    if props.get("event"):
        props["interrupting"] = el.get("isInterrupting", "true").lower() != "false"
    io = _io(el, ctx)
    return None if io is None else {**props, **io}


def _end_event(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    ok, props = _event_definition(el, ctx)
    if not ok:
        return None
    if props.get("event", {}).get("type") == "message":
        job = _job(el, ctx, "a message end event")  # Camunda 8 runs message throw events as jobs
        if job is None:
            return None
        props.update(job)
    io = _io(el, ctx)
    return None if io is None else {**props, **io}


def _throw_event(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    return _end_event(el, ctx)


def _catch_event(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    ok, props = _event_definition(el, ctx)
    if not ok:
        return None
    io = _io(el, ctx)
    return None if io is None else {**props, **io}


def _boundary_event(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    ok, props = _event_definition(el, ctx)
    if not ok:
        return None
    props["attachedTo"] = el.get("attachedToRef", "")
    props["interrupting"] = el.get("cancelActivity", "true").lower() != "false"
    if props["event"]["type"] == "error" and not props["interrupting"]:
        ctx.problem("an error boundary event is always interrupting (cancelActivity=\"false\" is not allowed)", el)
        return None
    io = _io(el, ctx)
    return None if io is None else {**props, **io}


def _job_task(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    return _activity(el, ctx, _job(el, ctx, f"a {local(el.tag)}"))


def _script_task(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    script = zeebe.script(el)
    if script is None:
        return _job_task(el, ctx)  # a script task with a zeebe:taskDefinition is a job for a worker
    if not script["expression"].strip() or not script["resultVariable"].strip():
        ctx.problem("zeebe:script needs an expression and a resultVariable", el)
        return None
    expression = ctx.expression(el, "zeebe:script expression", script["expression"], kind="feel")
    if expression is None:
        return None
    return _activity(el, ctx, {"script": expression, "resultVariable": script["resultVariable"].strip()})


def _business_rule_task(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    called = zeebe.called_decision(el)
    if called is None:
        return _job_task(el, ctx)  # a business rule task with a zeebe:taskDefinition is a job for a worker
    decision_id, result = called["decisionId"].strip(), called["resultVariable"].strip()
    if not decision_id or not result:
        ctx.problem("zeebe:calledDecision needs a decisionId and a resultVariable", el)
        return None
    binding = _binding(el, ctx, "zeebe:calledDecision", "decisionId", decision_id, called)
    checked = ctx.expression(el, "zeebe:calledDecision decisionId", decision_id)
    if binding is None or checked is None:
        return None
    props = {"decisionId": checked, "resultVariable": result, **binding}
    return _activity(el, ctx, props)


def _binding(el: etree._Element, ctx: _Context, what: str, id_attr: str, target: str,
             called: dict[str, Any]) -> dict[str, str] | None:
    """The one rule of `bindingType` (Camunda 8), for called decisions and called processes alike:
    latest (default), deployment (the version deployed with this process; a static id) or versionTag
    (the latest version with that zeebe:versionTag; a static id). Returns the props to store."""
    binding = called["bindingType"]
    if binding not in ("latest", "deployment", "versionTag"):
        ctx.problem(f"{what} bindingType must be latest, deployment or versionTag, got '{binding}'", el)
        return None
    if binding == "versionTag" and not called["versionTag"].strip():
        ctx.problem(f"{what} bindingType=\"versionTag\" needs a versionTag", el)
        return None
    if binding != "latest" and target.startswith("="):
        ctx.problem(f"{what} bindingType=\"{binding}\" needs a static {id_attr}", el)
        return None
    props = {"bindingType": binding}
    if binding == "versionTag":
        props["versionTag"] = called["versionTag"].strip()
    return props


def _user_task(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    props = zeebe.user_task(el)
    for attr in ("assignee", "candidateGroups", "candidateUsers", "dueDate", "followUpDate", "priority", "formId"):
        if attr in props:
            text = ctx.expression(el, attr, props[attr])
            if text is None:
                return None
            props[attr] = text
    if zeebe.task_listeners(el):
        if not props["camundaUserTask"]:
            ctx.problem("task listeners need a Camunda user task (<zeebe:userTask />), not a job-based one", el)
            return None
        task_listeners = _listeners(el, ctx, "userTask", "taskListener", TASK_LISTENER_EVENTS)
        if task_listeners is None:
            return None
        props["taskListeners"] = task_listeners
    return _activity(el, ctx, props)


def _pass_through(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    return _activity(el, ctx, {})


def _receive_task(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    event: dict[str, Any] = {"type": "message"}
    if not _message_ref(el, el.get("messageRef"), event, ctx):
        return None
    return _activity(el, ctx, {"event": event})


def _gateway(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    return {"default": el.get("default")} if el.get("default") else {}


def _sub_process(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    if el.get("triggeredByEvent", "false").lower() == "true":
        io = _io(el, ctx)
        return io
    return _activity(el, ctx, {})


def _ad_hoc_sub_process(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    """Camunda 8.7's ad-hoc subprocess, run by the engine: `zeebe:adHoc activeElementsCollection` names the
    inner elements activated on entry; `bpmn:completionCondition` is evaluated after each inner completion;
    `cancelRemainingInstances` (default true) ends what still runs when it holds."""
    props: dict[str, Any] = {"cancelRemaining": el.get("cancelRemainingInstances", "true").strip().lower() != "false"}
    if zeebe.extension(el, "taskDefinition") is not None:
        ctx.problem("an ad-hoc subprocess worked by a job worker (zeebe:taskDefinition, Camunda 8.8) is not "
                    "supported yet; use zeebe:adHoc activeElementsCollection", el)
        return None
    found = zeebe.extension(el, "adHoc")
    if found is not None:
        for attr in ("outputCollection", "outputElement"):
            if (found.get(attr) or "").strip():
                ctx.problem(f"zeebe:adHoc {attr} is not supported yet; collect results with output mappings", el)
                return None
        text = (found.get("activeElementsCollection") or "").strip()
        if text:
            compiled = ctx.expression(el, "zeebe:adHoc activeElementsCollection", text)
            if compiled is None:
                return None
            props["activeElements"] = compiled
    cond = el.find(f"{B}completionCondition")
    if cond is not None and (cond.text or "").strip():
        compiled = ctx.expression(el, "completionCondition", cond.text or "", kind="condition",
                                  line=cond.sourceline)
        if compiled is None:
            return None
        props["completionCondition"] = compiled
    return _activity(el, ctx, props)


def _call_activity(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    called = zeebe.called_element(el)
    if called is None or not called["processId"].strip():
        ctx.problem("a call activity needs <zeebe:calledElement processId=\"...\">", el)
        return None
    binding = _binding(el, ctx, "zeebe:calledElement", "processId", called["processId"].strip(), called)
    process_id = ctx.expression(el, "zeebe:calledElement processId", called["processId"])
    if binding is None or process_id is None:
        return None
    props = {"processId": process_id, "propagateAllChildVariables": called["propagateAllChildVariables"],
             "propagateAllParentVariables": called["propagateAllParentVariables"], **binding}
    return _activity(el, ctx, props)


# tag → props parser. One line per supported element; behaviours live in engine/runtime/behaviors.
ELEMENT_PARSERS: dict[str, Callable[[etree._Element, _Context], dict[str, Any] | None]] = {
    "startEvent": _start_event,
    "endEvent": _end_event,
    "intermediateThrowEvent": _throw_event,
    "intermediateCatchEvent": _catch_event,
    "boundaryEvent": _boundary_event,
    "serviceTask": _job_task,
    "sendTask": _job_task,
    "businessRuleTask": _business_rule_task,
    "scriptTask": _script_task,
    "userTask": _user_task,
    "manualTask": _pass_through,
    "task": _pass_through,
    "receiveTask": _receive_task,
    "exclusiveGateway": _gateway,
    "parallelGateway": _gateway,
    "inclusiveGateway": _gateway,
    "eventBasedGateway": _gateway,
    "subProcess": _sub_process,
    "adHocSubProcess": _ad_hoc_sub_process,
    "callActivity": _call_activity,
}

# Containers whose children are walked as a nested scope.
_CONTAINERS = {"subProcess", "adHocSubProcess"}


def _kind(el: etree._Element) -> str:
    tag = local(el.tag)
    if tag == "subProcess" and el.get("triggeredByEvent", "false").lower() == "true":
        return "eventSubProcess"
    return tag


def _parse_process(proc: etree._Element, ctx: _Context) -> Graph | None:
    process_id = proc.get("id") or ""
    elements: dict[str, Element] = {}
    xml_of: dict[str, etree._Element] = {}
    flows: dict[str, Flow] = {}
    flow_xml: list[tuple[etree._Element, str | None]] = []
    # A diagram with pools may keep its associations in the collaboration rather than the process.
    associations: list[etree._Element] = ctx.root.findall(f"{B}collaboration/{B}association")

    def walk(container: etree._Element, parent: str | None) -> None:
        for child in container:
            if not isinstance(child.tag, str) or ns(child.tag) != BPMN_NS:
                continue
            tag = local(child.tag)
            if tag == "sequenceFlow":
                flow_xml.append((child, parent))
                continue
            if tag == "association":
                associations.append(child)  # a compensation boundary event names its handler by one
                continue
            if tag in _NON_FLOW:
                continue
            el_id = child.get("id")
            if not el_id:
                ctx.problem(f"a {tag} has no id", child)
                continue
            if el_id in elements or el_id in xml_of:
                ctx.problem(f"duplicate id '{el_id}'", child)
                continue
            xml_of[el_id] = child
            handler = ELEMENT_PARSERS.get(tag)
            if handler is None:
                ctx.problem(f"element kind '{tag}' is not supported", child)
                continue
            for _name, what in zeebe.unsupported(child):
                ctx.problem(f"{what} are not supported" if what.endswith("s") else f"{what} is not supported", child)
            props = handler(child, ctx)
            listeners = _listeners(child, ctx, tag)
            if tag in _CONTAINERS:
                walk(child, el_id)
            if props is None or listeners is None:
                continue
            if listeners:
                props["listeners"] = listeners
            elements[el_id] = Element(id=el_id, kind=_kind(child), name=child.get("name", ""), parent=parent,
                                      props=props, line=child.sourceline)

    walk(proc, None)
    process_listeners = _listeners(proc, ctx, "process") or {}
    for _name, what in zeebe.unsupported(proc):
        ctx.problem(f"{what} are not supported" if what.endswith("s") else f"{what} is not supported", proc)

    incoming: dict[str, list[str]] = {}
    outgoing: dict[str, list[str]] = {}
    for fx, parent in flow_xml:
        fid, src, tgt = fx.get("id") or "", fx.get("sourceRef") or "", fx.get("targetRef") or ""
        if not fid:
            ctx.problem("a sequenceFlow has no id", fx)
            continue
        bad = False
        for end, ref in (("sourceRef", src), ("targetRef", tgt)):
            if ref in elements and elements[ref].parent != parent:
                ctx.problem(f"sequenceFlow {end} '{ref}' is in another scope than the flow", fx)
                bad = True
            elif ref not in elements and ref not in xml_of:
                ctx.problem(f"sequenceFlow {end} '{ref}' does not name an element of this process", fx)
        if bad or src not in elements or tgt not in elements:
            continue
        cond = fx.find(f"{B}conditionExpression")
        condition = None
        language = None
        if cond is not None and (cond.text or "").strip():
            language = cond.get("language")
            if elements[src].kind not in ("exclusiveGateway", "inclusiveGateway"):
                ctx.problem("a condition is only allowed on a flow out of an exclusive or inclusive gateway", fx)
                continue
            condition = ctx.expression(fx, "conditionExpression", cond.text or "", kind="condition",
                                       language=language, line=cond.sourceline)
            if condition is None:
                continue
        flows[fid] = Flow(id=fid, source=src, target=tgt, name=fx.get("name", ""), condition=condition,
                          condition_language=language)
        outgoing.setdefault(src, []).append(fid)
        incoming.setdefault(tgt, []).append(fid)

    elements = {
        eid: Element(id=e.id, kind=e.kind, name=e.name, parent=e.parent, props=e.props, line=e.line,
                     incoming=tuple(incoming.get(eid, ())), outgoing=tuple(outgoing.get(eid, ())))
        for eid, e in elements.items()
    }
    graph = Graph(process_id=process_id, name=proc.get("name", "") or "", elements=elements, flows=flows,
                  version_tag=_version_tag(proc), forms=zeebe.user_task_forms(proc), listeners=process_listeners)
    _validate(graph, xml_of, proc, ctx)
    _compensation(graph, xml_of, associations, proc, ctx)
    return graph


def _validate(graph: Graph, xml_of: dict[str, etree._Element], proc: etree._Element, ctx: _Context) -> None:
    """Structural rules a single element parser cannot see."""
    elements = graph.elements

    def problem(eid: str, message: str) -> None:
        ctx.problem(message, xml_of.get(eid, proc))

    none_starts = graph.start_events(None)
    if not none_starts and not graph.event_starts(None):
        ctx.problem(f"process '{graph.process_id}' has no start event", proc)
    if len(none_starts) > 1:
        ctx.problem(f"process '{graph.process_id}' has more than one none start event", proc)
    for e in elements.values():
        event = e.props.get("event") or {}
        if e.kind == "startEvent":
            scope = elements.get(e.parent) if e.parent else None
            scope_kind = scope.kind if scope else "process"
            if event.get("type") in ("error", "escalation") and scope_kind != "eventSubProcess":
                problem(e.id, f"an {event['type']} start event is only allowed in an event subprocess")
            if event and scope_kind == "subProcess":
                problem(e.id, "a start event in an embedded subprocess must be a none start event")
            if not event and scope_kind == "eventSubProcess":
                problem(e.id, "the start event of an event subprocess needs an event definition")
        elif e.kind == "subProcess":
            if len(graph.start_events(e.id)) != 1:
                problem(e.id, "an embedded subprocess needs exactly one none start event")
        elif e.kind == "adHocSubProcess":
            inner = [c for c in elements.values() if c.parent == e.id]
            if any(c.kind in ("startEvent", "endEvent") for c in inner):
                problem(e.id, "an ad-hoc subprocess must not contain start or end events")
            if not any(c.kind in ACTIVITY_KINDS for c in inner):
                problem(e.id, "an ad-hoc subprocess needs at least one activity")
        elif e.kind == "eventSubProcess":
            starts = graph.event_starts(e.id)
            if len(starts) != 1:
                problem(e.id, "an event subprocess needs exactly one start event with an event definition")
            elif starts[0].props["event"]["type"] == "error" and not starts[0].props.get("interrupting", True):
                problem(starts[0].id, "an error start event is always interrupting")
            if e.incoming or e.outgoing:
                problem(e.id, "an event subprocess has no incoming or outgoing sequence flows")
        elif e.kind == "boundaryEvent":
            target = elements.get(e.props["attachedTo"])
            if target is None or target.kind not in ACTIVITY_KINDS:
                problem(e.id, f"a boundary event must be attached to an activity, not '{e.props['attachedTo']}'")
            elif target.parent != e.parent:
                problem(e.id, "a boundary event must be in the same scope as its activity")
            elif event.get("type") == "escalation" and target.kind not in ("subProcess", "adHocSubProcess",
                                                                           "callActivity"):
                problem(e.id, "an escalation boundary event may only be attached to a subprocess or a call activity")
            if e.incoming:
                problem(e.id, "a boundary event has no incoming sequence flows")
        elif e.kind in ("exclusiveGateway", "inclusiveGateway"):
            default = e.props.get("default")
            if default and default not in e.outgoing:
                problem(e.id, f"the default flow '{default}' is not an outgoing flow of the gateway")
            elif default and graph.flows[default].condition:
                problem(e.id, f"the default flow '{default}' must not have a condition")
        elif e.kind == "eventBasedGateway":
            targets = [elements[graph.flows[f].target] for f in e.outgoing]
            if len(targets) < 2:
                problem(e.id, "an event-based gateway needs at least two outgoing flows")
            for t in targets:
                if t.kind not in ("intermediateCatchEvent", "receiveTask"):
                    problem(e.id, f"an event-based gateway may only lead to catch events, not to '{t.id}'")
        if e.kind == "endEvent" and e.outgoing:
            problem(e.id, "an end event has no outgoing sequence flows")
        if event.get("type") == "link" and e.kind == "intermediateThrowEvent" and e.outgoing:
            problem(e.id, "a link throw event has no outgoing sequence flows")
        if event.get("type") == "link" and e.kind == "intermediateCatchEvent" and e.incoming:
            problem(e.id, "a link catch event has no incoming sequence flows")
    _validate_links(graph, problem)


def _validate_links(graph: Graph, problem: Callable[[str, str], None]) -> None:
    """A link throw jumps to the one link catch of the same name in its own scope (Camunda 8)."""
    catches: dict[tuple[str | None, str], str] = {}
    for e in graph.elements.values():
        event = e.props.get("event") or {}
        if e.kind == "intermediateCatchEvent" and event.get("type") == "link":
            where = (e.parent, event["linkName"])
            if where in catches:
                problem(e.id, f"the link name '{event['linkName']}' is caught twice in one scope "
                              f"('{catches[where]}' and '{e.id}')")
            catches.setdefault(where, e.id)
    for e in graph.elements.values():
        event = e.props.get("event") or {}
        if e.kind == "intermediateThrowEvent" and event.get("type") == "link":
            target = catches.get((e.parent, event["linkName"]))
            if target is None:
                problem(e.id, f"no link catch event named '{event['linkName']}' in the scope of this link throw "
                              "event")
            else:
                e.props["linkTarget"] = target
        if e.kind == "startEvent" and e.incoming:
            problem(e.id, "a start event has no incoming sequence flows")


def _compensation(graph: Graph, xml_of: dict[str, etree._Element], associations: list[etree._Element],
                  proc: etree._Element, ctx: _Context) -> None:
    """Camunda 8's compensation rules: each compensation boundary event is associated with exactly one
    handler (an activity with isForCompensation="true", outside the sequence flow), and a throw
    event's activityRef names a compensable activity of its scope. Links the boundary to its handler."""
    elements = graph.elements

    def problem(eid: str, message: str) -> None:
        ctx.problem(message, xml_of.get(eid, proc))

    linked: dict[str, list[str]] = {}
    for a in associations:
        source, target = a.get("sourceRef") or "", a.get("targetRef") or ""
        if (elements.get(source) and (elements[source].props.get("event") or {}).get("type") == "compensation"
                and elements[source].kind == "boundaryEvent"):
            linked.setdefault(source, []).append(target)
    handled: dict[str, str] = {}
    for e in elements.values():
        event = e.props.get("event") or {}
        if e.kind == "boundaryEvent" and event.get("type") == "compensation":
            activity = elements.get(e.props["attachedTo"])
            targets = linked.get(e.id, [])
            if e.outgoing:
                problem(e.id, "a compensation boundary event has no outgoing sequence flows; associate it with "
                              "its compensation handler")
            if len(targets) != 1:
                problem(e.id, "a compensation boundary event needs exactly one association to its compensation "
                              f"handler, found {len(targets)}")
                continue
            handler = elements.get(targets[0])
            if handler is None or not handler.props.get("forCompensation"):
                problem(e.id, f"the association of a compensation boundary event must lead to an activity with "
                              f"isForCompensation=\"true\", not '{targets[0]}'")
                continue
            if activity is not None and activity.props.get("forCompensation"):
                problem(e.id, "a compensation handler cannot have a compensation boundary event of its own")
            elif any(b.id != e.id and (b.props.get("event") or {}).get("type") == "compensation"
                     for b in graph.boundary_events(e.props["attachedTo"])):
                problem(e.id, "an activity has at most one compensation boundary event")
            if activity is not None and handler.parent != activity.parent:
                problem(handler.id, "a compensation handler must be in the same scope as the activity it compensates")
            if handler.id in handled:
                problem(handler.id, f"the compensation handler is associated with both '{handled[handler.id]}' "
                                    f"and '{e.id}'")
            handled[handler.id] = e.id
            e.props["handler"] = handler.id
        elif e.kind in ("intermediateThrowEvent", "endEvent") and event.get("type") == "compensation":
            ref = event.get("activityRef")
            if ref is None:
                continue
            scopes = {e.parent}
            parent = elements.get(e.parent) if e.parent else None
            if parent is not None and parent.kind == "eventSubProcess":
                scopes.add(parent.parent)  # thrown from an event subprocess: its outer scope
            target = elements.get(ref)
            if target is None or target.parent not in scopes:
                problem(e.id, f"the activityRef '{ref}' does not name an activity in the scope of the "
                              "compensation throw event")
            elif not any((b.props.get("event") or {}).get("type") == "compensation"
                         for b in graph.boundary_events(ref)):
                problem(e.id, f"the activityRef '{ref}' names an activity without a compensation boundary event")
    for e in elements.values():
        if not e.props.get("forCompensation"):
            continue
        if e.id not in handled:
            problem(e.id, "a compensation handler (isForCompensation=\"true\") must be associated with a "
                          "compensation boundary event")
        if e.incoming or e.outgoing:
            problem(e.id, "a compensation handler has no incoming or outgoing sequence flows")
        if graph.boundary_events(e.id):
            problem(e.id, "a compensation handler cannot have boundary events")


def _version_tag(proc: etree._Element) -> str:
    tag = zeebe.extension(proc, "versionTag")
    return tag.get("value", "") if tag is not None else ""


def parse_bpmn(data: bytes, resource_name: str) -> list[Graph]:
    """Parse and validate; raise DefinitionError listing every problem found."""
    root = parse_xml(data, resource_name)
    ctx = _Context(resource_name, root)
    if ns(root.tag) != BPMN_NS or local(root.tag) != "definitions":
        raise DefinitionError(resource_name,
                              [Problem("the root element is not bpmn:definitions", line=root.sourceline)])
    processes = root.findall(f"{B}process")
    executable = [p for p in processes if p.get("isExecutable", "false").lower() == "true"]
    if not executable:
        raise DefinitionError(resource_name, [Problem("the file has no executable process (isExecutable=\"true\")")])
    graphs = []
    for proc in executable:
        if not proc.get("id"):
            ctx.problem("a process has no id", proc)
            continue
        graph = _parse_process(proc, ctx)
        if graph is not None:
            graphs.append(graph)
    if ctx.problems:
        raise DefinitionError(resource_name, ctx.problems)
    return graphs
