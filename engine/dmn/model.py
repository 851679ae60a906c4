"""The parsed decision model: plain frozen dataclasses, built once per deployment."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Literal:
    """A literal expression: FEEL text (compiled lazily, so one bad cell fails only its decision)."""

    text: str


@dataclass(frozen=True)
class BoxedContext:
    # (name, logic); a None name is the context's result entry
    entries: tuple[tuple[str | None, Logic], ...]


@dataclass(frozen=True)
class BoxedList:
    items: tuple[Logic, ...]


@dataclass(frozen=True)
class Input:
    expression: str
    values: str | None  # allowed input values (unary tests), unused by evaluation
    id: str = ""
    label: str = ""


@dataclass(frozen=True)
class Output:
    name: str
    values: tuple[str, ...]  # output values, highest priority first (PRIORITY / OUTPUT ORDER)
    default: str | None
    id: str = ""
    label: str = ""


@dataclass(frozen=True)
class Rule:
    inputs: tuple[str, ...]  # unary-test text per input column
    outputs: tuple[str, ...]  # FEEL text per output column
    id: str = ""


@dataclass(frozen=True)
class DecisionTable:
    hit_policy: str  # UNIQUE, ANY, PRIORITY, FIRST, RULE ORDER, OUTPUT ORDER, COLLECT
    aggregation: str | None  # SUM, MIN, MAX, COUNT (COLLECT only)
    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class FunctionDefinition:
    """A boxed function (a BKM's encapsulated logic): parameters and the body."""

    parameters: tuple[str, ...]
    body: Logic
    types: tuple[str | None, ...] = ()  # the parameters' typeRefs, where declared


@dataclass(frozen=True)
class Invocation:
    """A boxed invocation: the function's name (FEEL text) and its arguments by parameter name."""

    function: str
    bindings: tuple[tuple[str, Logic | None], ...]


@dataclass(frozen=True)
class BoxedFilter:
    """DMN 1.5 boxed filter: the elements of `source` for which `match` is true (`item` is the element)."""

    source: Logic
    match: Logic


@dataclass(frozen=True)
class BoxedIterator:
    """DMN 1.5 boxed for / some / every over `source`, the element named `variable`."""

    kind: str  # "for" | "some" | "every"
    variable: str
    source: Logic
    body: Logic


@dataclass(frozen=True)
class BoxedConditional:
    condition: Logic
    then: Logic
    otherwise: Logic


@dataclass(frozen=True)
class Unsupported:
    """Logic this engine does not evaluate yet; evaluating it raises DecisionError."""

    kind: str


Logic = (
    Literal
    | BoxedContext
    | BoxedList
    | DecisionTable
    | FunctionDefinition
    | Invocation
    | BoxedFilter
    | BoxedIterator
    | BoxedConditional
    | Unsupported
)


@dataclass(frozen=True)
class Import:
    """<import>: another model's decisions, BKMs and item definitions, named `prefix.name` here."""

    namespace: str
    name: str  # the prefix


def split_ref(ref: str) -> tuple[str, str]:
    """A requirement as the parser keeps it: "id" in this model, "namespace#id" in an imported one."""
    namespace, _, element_id = ref.rpartition("#")
    return namespace, element_id


@dataclass(frozen=True)
class Decision:
    id: str
    name: str
    logic: Logic | None
    required_decisions: tuple[str, ...] = ()  # ids; "namespace#id" for an imported model's (split_ref)
    required_inputs: tuple[str, ...] = ()  # ids; "namespace#id" for an imported model's input data
    version_tag: str = ""  # zeebe:versionTag (Camunda 8 bindingType="versionTag")


@dataclass(frozen=True)
class DecisionService:
    """A decision service: output decisions evaluated from given input data and input decisions."""

    id: str
    name: str
    outputs: tuple[str, ...]  # decision ids
    input_decisions: tuple[str, ...]  # decision ids
    input_data: tuple[str, ...]  # input data ids


@dataclass(frozen=True)
class Definitions:
    id: str
    name: str
    namespace: str
    decisions: dict[str, Decision] = field(default_factory=dict)  # by id
    knowledge: dict[str, FunctionDefinition] = field(default_factory=dict)  # BKMs by name
    services: dict[str, DecisionService] = field(default_factory=dict)  # by name
    input_data: dict[str, str] = field(default_factory=dict)  # id -> name
    # typeRef of input data and decisions, by name, item definitions resolved to a FEEL type
    # where they alias one ("tAge" -> "number"); see engine/dmn/types.py.
    types: dict[str, str] = field(default_factory=dict)
    imports: list[Import] = field(default_factory=list)
    # Item definitions that alias a type, by name ("tAge" -> "number"): what `prefix.tAge` means
    # to a model importing this one.
    item_types: dict[str, str] = field(default_factory=dict)

    def imported(self, namespace: str) -> Import | None:
        return next((i for i in self.imports if i.namespace == namespace), None)

    def service(self, id_or_name: str) -> DecisionService | None:
        if id_or_name in self.services:
            return self.services[id_or_name]
        return next((s for s in self.services.values() if s.id == id_or_name), None)

    def find(self, id_or_name: str) -> Decision | None:
        if id_or_name in self.decisions:
            return self.decisions[id_or_name]
        for decision in self.decisions.values():
            if decision.name == id_or_name:
                return decision
        return None
