"""The immutable executable graph that BPMN and JSON DAG definitions both compile into.

A Graph is built once at deploy time, stored as JSON on the ProcessDefinition and
rebuilt from that JSON (with its expressions compiled) once per process, through
`engine.definitions.cache`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Element kinds the runtime knows, mapped to the Camunda element-instance `type` enum.
ELEMENT_TYPES: dict[str, str] = {
    "process": "PROCESS",
    "subProcess": "SUB_PROCESS",
    "eventSubProcess": "EVENT_SUB_PROCESS",
    "adHocSubProcess": "AD_HOC_SUB_PROCESS",
    "startEvent": "START_EVENT",
    "endEvent": "END_EVENT",
    "intermediateCatchEvent": "INTERMEDIATE_CATCH_EVENT",
    "intermediateThrowEvent": "INTERMEDIATE_THROW_EVENT",
    "boundaryEvent": "BOUNDARY_EVENT",
    "serviceTask": "SERVICE_TASK",
    "sendTask": "SEND_TASK",
    "businessRuleTask": "BUSINESS_RULE_TASK",
    "scriptTask": "SCRIPT_TASK",
    "userTask": "USER_TASK",
    "receiveTask": "RECEIVE_TASK",
    "manualTask": "MANUAL_TASK",
    "task": "TASK",
    "exclusiveGateway": "EXCLUSIVE_GATEWAY",
    "parallelGateway": "PARALLEL_GATEWAY",
    "inclusiveGateway": "INCLUSIVE_GATEWAY",
    "eventBasedGateway": "EVENT_BASED_GATEWAY",
    "callActivity": "CALL_ACTIVITY",
}


@dataclass(frozen=True, slots=True)
class Flow:
    id: str
    source: str
    target: str
    name: str = ""
    condition: str | None = None  # expression source text, compiled by the runtime's cache
    condition_language: str | None = None


@dataclass(frozen=True, slots=True)
class Element:
    id: str
    kind: str
    name: str = ""
    # Id of the enclosing scope element (subprocess); None when the process is the scope.
    parent: str | None = None
    incoming: tuple[str, ...] = ()
    outgoing: tuple[str, ...] = ()
    # Kind-specific settings (task type, retries, headers, io mappings, event definition ...).
    props: dict[str, Any] = field(default_factory=dict)
    line: int | None = None

    @property
    def type(self) -> str:
        return ELEMENT_TYPES.get(self.kind, "UNKNOWN")


# Kinds that contain flow elements of their own (a variable scope and a flow scope).
CONTAINER_KINDS = frozenset({"process", "subProcess", "eventSubProcess", "adHocSubProcess"})
# Kinds that can carry boundary events and multi-instance characteristics.
ACTIVITY_KINDS = frozenset({
    "serviceTask", "sendTask", "businessRuleTask", "scriptTask", "userTask", "receiveTask", "manualTask", "task",
    "subProcess", "adHocSubProcess", "callActivity",
})


@dataclass(frozen=True, slots=True)
class Graph:
    process_id: str
    name: str
    elements: dict[str, Element]
    flows: dict[str, Flow]
    version_tag: str = ""
    # Embedded Camunda forms (`zeebe:userTaskForm`): form id → form-js JSON text.
    forms: dict[str, str] = field(default_factory=dict)
    # The process's own execution listeners ({"start": [...], "end": [...]}, `zeebe:executionListeners`).
    listeners: dict[str, Any] = field(default_factory=dict)
    # Derived lookups, filled lazily; not part of the stored JSON.
    _index: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def _cached(self, key: Any, build: Any) -> Any:
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = build()
        return found

    def process_element(self) -> Element:
        """The process itself as an element (its scope and its listeners)."""
        # Built once per graph (every instance run asks for it), as immutable as the graph's own elements.
        return self._cached("process_element", lambda: Element(
            id=self.process_id, kind="process", name=self.name,
            props={"listeners": self.listeners} if self.listeners else {}))

    def start_events(self, scope: str | None) -> list[Element]:
        """The none start events directly inside a scope (None = the process)."""
        return self._cached(("start", scope), lambda: [
            e
            for e in self.elements.values()
            if e.kind == "startEvent" and e.parent == scope and not e.props.get("event")
        ])

    def event_starts(self, scope: str | None) -> list[Element]:
        """Start events with an event definition directly inside a scope (message/timer/error/signal)."""
        return self._cached(("event-start", scope), lambda: [
            e for e in self.elements.values() if e.kind == "startEvent" and e.parent == scope and e.props.get("event")
        ])

    def children(self, scope: str | None) -> list[Element]:
        return self._cached(("children", scope), lambda: [e for e in self.elements.values() if e.parent == scope])

    def event_subprocesses(self, scope: str | None) -> list[Element]:
        """Event subprocesses directly inside a scope (None = the process)."""
        return self._cached(("esp", scope), lambda: [e for e in self.children(scope) if e.kind == "eventSubProcess"])

    def boundary_events(self, activity_id: str) -> list[Element]:
        """Boundary events attached to an activity, in document order."""
        def build() -> dict[str, list[Element]]:
            found: dict[str, list[Element]] = {}
            for e in self.elements.values():
                if e.kind == "boundaryEvent":
                    found.setdefault(e.props["attachedTo"], []).append(e)
            return found

        return self._cached("boundaries", build).get(activity_id, [])

    def compensation_handler(self, activity_id: str) -> str | None:
        """The handler of an activity's compensation boundary event (linked at deploy), if it has one."""
        return next((b.props["handler"] for b in self.boundary_events(activity_id)
                     if (b.props.get("event") or {}).get("type") == "compensation" and "handler" in b.props), None)

    def successors(self, element_id: str) -> frozenset[str]:
        """Every element a token at `element_id` can still reach in its scope (boundary events included)."""
        def build() -> frozenset[str]:
            seen: set[str] = set()
            todo = [element_id]
            while todo:
                current = todo.pop()
                nexts = [self.flows[f].target for f in self.elements[current].outgoing]
                nexts += [b.id for b in self.boundary_events(current)]
                for target in nexts:
                    if target not in seen:
                        seen.add(target)
                        todo.append(target)
            return frozenset(seen)

        return self._cached(("reach", element_id), build)

    def job_types(self) -> tuple[str, ...]:
        """The job types this process's own elements and listeners create, where the type is fixed text
        (a type that is an expression is known only at run time). For backpressure (engine/backpressure.py)."""
        def build() -> tuple[str, ...]:
            found: set[str] = set()

            def listened(listeners: Any) -> None:
                for entries in (listeners or {}).values():
                    found.update(str(entry.get("type") or "") for entry in entries)

            listened(self.listeners)
            for element in self.elements.values():
                found.add(str(element.props.get("jobType") or ""))
                listened(element.props.get("listeners"))
                listened(element.props.get("taskListeners"))
            return tuple(sorted(t for t in found if t and not t.startswith("=")))

        return self._cached(("jobTypes",), build)

    def to_json(self) -> dict[str, Any]:
        return {
            "processId": self.process_id,
            "name": self.name,
            "versionTag": self.version_tag,
            "forms": self.forms,
            **({"listeners": self.listeners} if self.listeners else {}),
            "elements": [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "name": e.name,
                    "parent": e.parent,
                    "incoming": list(e.incoming),
                    "outgoing": list(e.outgoing),
                    "props": e.props,
                    "line": e.line,
                }
                for e in self.elements.values()
            ],
            "flows": [
                {
                    "id": f.id,
                    "source": f.source,
                    "target": f.target,
                    "name": f.name,
                    "condition": f.condition,
                    "conditionLanguage": f.condition_language,
                }
                for f in self.flows.values()
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Graph:
        elements = {
            e["id"]: Element(
                id=e["id"],
                kind=e["kind"],
                name=e.get("name", ""),
                parent=e.get("parent"),
                incoming=tuple(e.get("incoming", ())),
                outgoing=tuple(e.get("outgoing", ())),
                props=e.get("props", {}),
                line=e.get("line"),
            )
            for e in data["elements"]
        }
        flows = {
            f["id"]: Flow(
                id=f["id"],
                source=f["source"],
                target=f["target"],
                name=f.get("name", ""),
                condition=f.get("condition"),
                condition_language=f.get("conditionLanguage"),
            )
            for f in data["flows"]
        }
        return cls(
            process_id=data["processId"],
            name=data.get("name", ""),
            elements=elements,
            flows=flows,
            version_tag=data.get("versionTag", ""),
            forms=data.get("forms") or {},
            listeners=data.get("listeners") or {},
        )
