"""Reading Camunda 8 `zeebe:` extension elements, all in one place.

Readers return plain values (strings, dicts); the parser decides what is required and
compiles the expressions among them.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from engine.bpmn.xml import BPMN_NS, ZEEBE_NS

Z = f"{{{ZEEBE_NS}}}"

# Extensions that change execution but are not implemented: refused rather than silently ignored.
UNSUPPORTED: dict[str, str] = {}


def extension(el: etree._Element, name: str) -> etree._Element | None:
    return el.find(f"{{{BPMN_NS}}}extensionElements/{Z}{name}")


def extensions(el: etree._Element, path: str) -> list[etree._Element]:
    return el.findall(f"{{{BPMN_NS}}}extensionElements/{Z}{path}")


def unsupported(el: etree._Element) -> list[tuple[str, str]]:
    """(name, description) of every unsupported zeebe extension on the element."""
    ext = el.find(f"{{{BPMN_NS}}}extensionElements")
    if ext is None:
        return []
    found = []
    for child in ext:
        if isinstance(child.tag, str) and child.tag.startswith(Z):
            name = child.tag[len(Z):]
            if name in UNSUPPORTED:
                found.append((name, UNSUPPORTED[name]))
    return found


def task_definition(el: etree._Element) -> dict[str, Any] | None:
    td = extension(el, "taskDefinition")
    if td is None:
        return None
    return {"type": td.get("type", ""), "retries": td.get("retries", "3")}


def task_headers(el: etree._Element) -> dict[str, str]:
    return {h.get("key", ""): h.get("value", "") for h in extensions(el, f"taskHeaders/{Z}header")}


def io_mapping(el: etree._Element) -> dict[str, list[dict[str, str]]]:
    """Input and output mappings as [{"source": expr, "target": name}] lists (empty lists are omitted)."""
    found: dict[str, list[dict[str, str]]] = {}
    for kind, key in (("input", "inputs"), ("output", "outputs")):
        mappings = [
            {"source": m.get("source", ""), "target": m.get("target", ""), "line": m.sourceline}
            for m in extensions(el, f"ioMapping/{Z}{kind}")
        ]
        if mappings:
            found[key] = mappings
    return found


def execution_listeners(el: etree._Element) -> list[dict[str, Any]]:
    """`zeebe:executionListeners`, in document order (the order Camunda runs them in)."""
    return [
        {"eventType": found.get("eventType", ""), "type": found.get("type", ""),
         "retries": found.get("retries", "3"), "line": found.sourceline}
        for found in extensions(el, f"executionListeners/{Z}executionListener")
    ]


def task_listeners(el: etree._Element) -> list[dict[str, Any]]:
    """`zeebe:taskListeners` of a user task, in document order."""
    return [
        {"eventType": found.get("eventType", ""), "type": found.get("type", ""),
         "retries": found.get("retries", "3"), "line": found.sourceline}
        for found in extensions(el, f"taskListeners/{Z}taskListener")
    ]


def script(el: etree._Element) -> dict[str, str] | None:
    found = extension(el, "script")
    if found is None:
        return None
    return {"expression": found.get("expression", ""), "resultVariable": found.get("resultVariable", "")}


def called_element(el: etree._Element) -> dict[str, Any] | None:
    found = extension(el, "calledElement")
    if found is None:
        return None
    return {
        "processId": found.get("processId", ""),
        "propagateAllChildVariables": found.get("propagateAllChildVariables", "true").lower() != "false",
        "propagateAllParentVariables": found.get("propagateAllParentVariables", "true").lower() != "false",
        "bindingType": found.get("bindingType", "latest"),
        "versionTag": found.get("versionTag", ""),
    }


def called_decision(el: etree._Element) -> dict[str, str] | None:
    """`zeebe:calledDecision` on a business rule task: the decision evaluated in the step itself."""
    found = extension(el, "calledDecision")
    if found is None:
        return None
    return {
        "decisionId": found.get("decisionId", ""),
        "resultVariable": found.get("resultVariable", ""),
        "bindingType": found.get("bindingType", "latest"),
        "versionTag": found.get("versionTag", ""),
    }


def loop_characteristics(mi: etree._Element) -> dict[str, str] | None:
    """`zeebe:loopCharacteristics` inside a bpmn:multiInstanceLoopCharacteristics element."""
    found = mi.find(f"{{{BPMN_NS}}}extensionElements/{Z}loopCharacteristics")
    if found is None:
        return None
    return {
        "inputCollection": found.get("inputCollection", ""),
        "inputElement": found.get("inputElement", ""),
        "outputCollection": found.get("outputCollection", ""),
        "outputElement": found.get("outputElement", ""),
    }


def user_task(el: etree._Element) -> dict[str, Any]:
    """Assignment, schedule, priority and form of a user task; values may be expressions."""
    props: dict[str, Any] = {"camundaUserTask": extension(el, "userTask") is not None}
    assignment = extension(el, "assignmentDefinition")
    if assignment is not None:
        for attr in ("assignee", "candidateGroups", "candidateUsers"):
            if assignment.get(attr):
                props[attr] = assignment.get(attr)
    schedule = extension(el, "taskSchedule")
    if schedule is not None:
        for attr in ("dueDate", "followUpDate"):
            if schedule.get(attr):
                props[attr] = schedule.get(attr)
    priority = extension(el, "priorityDefinition")
    if priority is not None and priority.get("priority"):
        props["priority"] = priority.get("priority")
    form = extension(el, "formDefinition")
    if form is not None:
        for attr in ("formKey", "formId", "externalReference"):
            if form.get(attr):
                props[attr] = form.get(attr)
    props["headers"] = task_headers(el)
    return props


def user_task_forms(process: etree._Element) -> dict[str, str]:
    """Embedded forms declared on the process: `zeebe:userTaskForm id=...` → form-js JSON text."""
    return {f.get("id", ""): (f.text or "") for f in extensions(process, "userTaskForm")}


def subscription(message: etree._Element) -> str | None:
    """The correlation key expression of a bpmn:message."""
    found = extension(message, "subscription")
    return found.get("correlationKey") if found is not None else None
