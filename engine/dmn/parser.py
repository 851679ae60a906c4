"""DMN XML -> model. Namespaces of DMN 1.1–1.5 are all read; elements are matched by local name."""

from __future__ import annotations

from lxml import etree

from engine.bpmn.errors import DefinitionError, Problem
from engine.bpmn.xml import local, parse_xml

from .model import (
    BoxedConditional,
    BoxedContext,
    BoxedFilter,
    BoxedIterator,
    BoxedList,
    Decision,
    DecisionService,
    DecisionTable,
    Definitions,
    FunctionDefinition,
    Import,
    Input,
    Invocation,
    Literal,
    Logic,
    Output,
    Rule,
    Unsupported,
)
from .unary import split_top_level

_LOGIC = frozenset(
    {
        "literalExpression",
        "decisionTable",
        "context",
        "list",
        "invocation",
        "relation",
        "functionDefinition",
        "conditional",
        "filter",
        "for",
        "every",
        "some",
    }
)
_HIT_POLICIES = frozenset({"UNIQUE", "ANY", "PRIORITY", "FIRST", "RULE ORDER", "OUTPUT ORDER", "COLLECT"})


def parse_dmn(data: bytes, resource_name: str) -> Definitions:
    """Parse a .dmn resource; raises DefinitionError for malformed XML or a non-DMN document."""
    root = parse_xml(data, resource_name)
    if local(root.tag) != "definitions":
        raise DefinitionError(resource_name, [Problem(f"root element is <{local(root.tag)}>, not <definitions>")])
    definitions = Definitions(id=root.get("id", ""), name=root.get("name", ""), namespace=root.get("namespace", ""))
    aliases = _item_aliases(root)
    definitions.item_types.update(aliases)
    for child in root:
        kind = local(child.tag)
        if kind in ("inputData", "decision"):
            variable = _child(child, "variable")
            type_ref = variable.get("typeRef") if variable is not None else None
            if type_ref:
                definitions.types[child.get("name", "")] = aliases.get(type_ref, type_ref)
        if kind == "inputData":
            definitions.input_data[child.get("id", "")] = child.get("name", "")
        elif kind == "import" and child.get("namespace"):
            # Only DMN models are imported this way (an XSD or PMML import names no decisions).
            if "DMN" in child.get("importType", "").upper() or not child.get("importType"):
                definitions.imports.append(Import(child.get("namespace", ""), child.get("name", "")))
        elif kind == "decision":
            decision = _decision(child, definitions.namespace)
            definitions.decisions[decision.id or decision.name] = decision
        elif kind == "decisionService":
            refs = {name: tuple(_href(ref) for ref in _children(child, name))
                    for name in ("outputDecision", "inputDecision", "inputData")}
            definitions.services[child.get("name", "")] = DecisionService(
                id=child.get("id", ""),
                name=child.get("name", ""),
                outputs=refs["outputDecision"],
                input_decisions=refs["inputDecision"],
                input_data=refs["inputData"],
            )
        elif kind == "businessKnowledgeModel":
            logic = _child(child, "encapsulatedLogic")
            if logic is not None:
                definitions.knowledge[child.get("name", "")] = _function(logic)
    return definitions


def _item_aliases(root: etree._Element) -> dict[str, str]:
    """Item definitions that only rename a type (no components, not a collection): name -> typeRef."""
    aliases: dict[str, str] = {}
    for item in _children(root, "itemDefinition"):
        type_ref = _child(item, "typeRef")
        if type_ref is not None and item.get("isCollection") != "true" and type_ref.text:
            aliases[item.get("name", "")] = type_ref.text.strip()
        elif item.get("isCollection") == "true":
            aliases[item.get("name", "")] = "list"
        elif _children(item, "itemComponent"):
            aliases[item.get("name", "")] = "context"
    for _ in range(len(aliases)):  # aliases of aliases
        aliases = {name: aliases.get(target, target) for name, target in aliases.items()}
    return aliases


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if local(child.tag) == name]


def _child(element: etree._Element, name: str) -> etree._Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _text(element: etree._Element | None) -> str | None:
    """The <text> of an element holding one (literalExpression, inputEntry, …)."""
    if element is None:
        return None
    text = _child(element, "text")
    return (text.text or "") if text is not None else None


def _href(element: etree._Element) -> str:
    return element.get("href", "").rsplit("#", 1)[-1]


def _qualified_href(element: etree._Element, own_namespace: str) -> str:
    """"id" for an element of this model, "namespace#id" for one of an imported model."""
    namespace, _, element_id = element.get("href", "").rpartition("#")
    return f"{namespace}#{element_id}" if namespace and namespace != own_namespace else element_id


def _decision(element: etree._Element, own_namespace: str) -> Decision:
    decisions: list[str] = []
    inputs: list[str] = []
    for requirement in _children(element, "informationRequirement"):
        for ref in requirement:
            if local(ref.tag) == "requiredDecision":
                decisions.append(_qualified_href(ref, own_namespace))
            elif local(ref.tag) == "requiredInput":
                inputs.append(_qualified_href(ref, own_namespace))
    return Decision(
        id=element.get("id") or element.get("name", ""),
        name=element.get("name", ""),
        logic=_logic_of(element),
        required_decisions=tuple(decisions),
        required_inputs=tuple(inputs),
        version_tag=_version_tag(element),
    )


def _version_tag(element: etree._Element) -> str:
    for extension in _children(element, "extensionElements"):
        for child in extension:
            if local(child.tag) == "versionTag":
                return child.get("value", "")
    return ""


def _logic_of(element: etree._Element) -> Logic | None:
    for child in element:
        if local(child.tag) in _LOGIC:
            return _logic(child)
    return None


def _logic(element: etree._Element) -> Logic:
    kind = local(element.tag)
    if kind == "literalExpression":
        return Literal(_text(element) or "")
    if kind == "decisionTable":
        return _table(element)
    if kind == "context":
        entries = []
        for entry in _children(element, "contextEntry"):
            variable = _child(entry, "variable")
            logic = _logic_of(entry)
            entries.append((variable.get("name") if variable is not None else None, logic or Literal("null")))
        return BoxedContext(tuple(entries))
    if kind == "list":
        return BoxedList(tuple(_logic(child) for child in element if local(child.tag) in _LOGIC))
    if kind == "functionDefinition":
        return _function(element)
    if kind in ("filter", "for", "some", "every", "conditional"):
        parts = {local(child.tag): _logic_of(child) for child in element}
        if kind == "filter" and parts.get("in") and parts.get("match"):
            return BoxedFilter(parts["in"], parts["match"])  # type: ignore[arg-type]
        body = parts.get("return" if kind == "for" else "satisfies")
        if kind != "conditional" and parts.get("in") and body:
            return BoxedIterator(kind, element.get("iteratorVariable", ""), parts["in"], body)  # type: ignore[arg-type]
        if kind == "conditional" and parts.get("if") and parts.get("then") and parts.get("else"):
            return BoxedConditional(parts["if"], parts["then"], parts["else"])  # type: ignore[arg-type]
        return Unsupported(f"incomplete {kind}")
    if kind == "invocation":
        target = _child(element, "literalExpression")
        bindings = []
        for binding in _children(element, "binding"):
            parameter = _child(binding, "parameter")
            bindings.append((parameter.get("name", "") if parameter is not None else "", _logic_of(binding)))
        return Invocation(_text(target) or "", tuple(bindings))
    return Unsupported(kind)


def _function(element: etree._Element) -> FunctionDefinition:
    parameters = tuple(p.get("name", "") for p in _children(element, "formalParameter"))
    types = tuple(p.get("typeRef") for p in _children(element, "formalParameter"))
    kind = element.get("kind", "FEEL")
    body = _logic_of(element)
    if kind not in ("FEEL", "F") or body is None:
        return FunctionDefinition(parameters, Unsupported(f"function of kind {kind}"))
    return FunctionDefinition(parameters, body, types)


def _table(element: etree._Element) -> Logic:
    policy = element.get("hitPolicy", "UNIQUE").upper()
    if policy not in _HIT_POLICIES:
        return Unsupported(f"hit policy {policy}")
    inputs = tuple(
        Input(_text(_child(item, "inputExpression")) or "null", _text(_child(item, "inputValues")),
              id=item.get("id", ""), label=item.get("label", ""))
        for item in _children(element, "input")
    )
    outputs = []
    for item in _children(element, "output"):
        values = _text(_child(item, "outputValues"))
        outputs.append(
            Output(
                name=item.get("name", ""),
                values=tuple(split_top_level(values)) if values else (),
                default=_text(_child(item, "defaultOutputEntry")),
                id=item.get("id", ""),
                label=item.get("label", ""),
            )
        )
    rules = tuple(
        Rule(
            inputs=tuple(_text(entry) or "-" for entry in _children(rule, "inputEntry")),
            outputs=tuple(_text(entry) or "null" for entry in _children(rule, "outputEntry")),
            id=rule.get("id", ""),
        )
        for rule in _children(element, "rule")
    )
    return DecisionTable(
        hit_policy=policy,
        aggregation=(element.get("aggregation") or "").upper() or None,
        inputs=inputs,
        outputs=tuple(outputs),
        rules=rules,
    )
