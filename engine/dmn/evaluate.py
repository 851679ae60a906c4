"""The decision requirements graph: required decisions first, each once, then the decision."""

from __future__ import annotations

import contextvars
import datetime as dt
import re
import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from engine.expressions import EvaluationError, ExpressionError, FeelFunction, InvocationError, as_json, compile_feel

from .errors import DecisionError
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
    Invocation,
    Literal,
    Logic,
    Unsupported,
    split_ref,
)
from .tables import evaluate_table
from .trace import decision_evaluated, decision_started
from .types import coerce_input, coerce_result

# The clock of the evaluation in progress (evaluate(now=...)), for now() and today() deep inside it.
_clock: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("dmn_clock", default=None)


# Other models by namespace, for the evaluation in progress (evaluate(models=...)): what <import>s name.
_models: contextvars.ContextVar[Mapping[str, Definitions]] = contextvars.ContextVar(
    "dmn_models", default=MappingProxyType({})
)
MAX_IMPORT_DEPTH = 20


def evaluate(
    definitions: Definitions,
    decision: str,
    inputs: Mapping[str, Any],
    *,
    now: dt.datetime | None = None,
    models: Mapping[str, Definitions] | None = None,
) -> dict[str, Any]:
    """Evaluate the decision (id or name) and what it requires; {decision name: result}.

    A value in `inputs` under a decision's name stands for that decision (it is not evaluated).
    Inputs are converted to their declared typeRef (see types.py). `now` is the clock now()
    and today() read (the engine's; without one they are null). `models` are the other models
    by namespace, where the model's <import>s are found (see _evaluate_imported). Raises
    DecisionError.
    """
    token = _clock.set(now)
    models_token = _models.set(models or {})
    try:
        typed = {name: coerce_input(value, type_of(definitions, name)) for name, value in inputs.items()}
        return _evaluate(definitions, decision, typed)
    finally:
        _models.reset(models_token)
        _clock.reset(token)


def type_of(definitions: Definitions, name: str) -> str | None:
    """The declared type of an input data or decision; `prefix.tName` is an imported model's item definition."""
    type_ref = definitions.types.get(name)
    if type_ref and "." in type_ref and definitions.imports:
        prefix, _, item = type_ref.partition(".")
        found = next((i for i in definitions.imports if i.name == prefix), None)
        model = _models.get().get(found.namespace) if found else None
        if model is not None:
            return model.item_types.get(item, item)
    return type_ref


def _library(definitions: Definitions, depth: int = 0) -> dict[str, Any]:
    """Business knowledge models and decision services: functions every expression may call. An
    imported model's are a context under its prefix (`Model B.greet("x")`)."""
    library: dict[str, Any] = {}
    for name, function in definitions.knowledge.items():
        library[name] = function_value(name, function, library)
    for name, service in definitions.services.items():
        library[name] = _service_function(definitions, service, library)
    if depth < MAX_IMPORT_DEPTH:
        for imported in definitions.imports:
            model = _models.get().get(imported.namespace)
            if model is not None:
                library[imported.name] = _library(model, depth + 1)
    return library


def _scope(library: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    scope = {**library, **inputs}
    for name, value in library.items():  # inputs under an import's prefix add to its functions
        if isinstance(value, dict) and isinstance(inputs.get(name), Mapping):
            scope[name] = {**value, **inputs[name]}
    return scope


def _evaluate(definitions: Definitions, decision: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    library = _library(definitions)
    service = definitions.service(decision)
    if service is not None and definitions.find(decision) is None:
        value = _evaluate_service(definitions, service, library, inputs)
        return {service.name: as_json(value, strict=False)}
    target = definitions.find(decision)
    if target is None:
        raise DecisionError(f"no decision {decision!r} in the model")
    results: dict[str, Any] = {}
    _evaluate_decision(definitions, target, _scope(library, inputs), results, (), inputs)
    return as_json(results, strict=False)  # dates and durations as ISO text: results become JSON variables


def _imported_input(importing: Definitions, ref: str, scope: dict[str, Any], inputs: Mapping[str, Any]) -> None:
    """Make an imported model's input data `prefix.name` in scope: given under the prefix, else by its name."""
    namespace, input_id = split_ref(ref)
    imported = importing.imported(namespace)
    model = _models.get().get(namespace)
    name = model.input_data.get(input_id) if model is not None else None
    if imported is None or name is None:
        return  # nothing to name it by; an expression reading it sees null
    entries = scope.get(imported.name)
    entries = dict(entries) if isinstance(entries, Mapping) else {}
    if name not in entries:
        entries[name] = coerce_input(inputs.get(name), type_of(model, name))
    scope[imported.name] = entries


def _evaluate_imported(
    importing: Definitions, ref: str, inputs: Mapping[str, Any], path: tuple[str, ...]
) -> tuple[str, str, Any]:
    """A decision of an imported model (ref "namespace#id"), evaluated in its own model: (prefix, name, value).

    It sees the importing model's inputs, and over them those given under the import's prefix
    (`{"Model B": {"Person name": …}}`), so nested imports take qualified inputs at every level.
    """
    namespace, decision_id = split_ref(ref)
    imported = importing.imported(namespace)
    model = _models.get().get(namespace)
    if imported is None or model is None:
        what = "not imported" if imported is None else "not available (deploy it with this model or before)"
        raise DecisionError(f"a decision requires {ref!r}, whose model {namespace!r} is {what}", unsupported=True)
    decision = model.decisions.get(decision_id)
    if decision is None:
        raise DecisionError(f"the model {imported.name!r} ({namespace}) has no decision {decision_id!r}")
    if len(path) > MAX_IMPORT_DEPTH:
        raise DecisionError(f"imported decisions nest deeper than {MAX_IMPORT_DEPTH} (models import each other?)")
    own = inputs.get(imported.name)
    given = {**inputs, **own} if isinstance(own, Mapping) else dict(inputs)
    typed = {name: coerce_input(value, type_of(model, name)) for name, value in given.items()}
    value = _evaluate_decision(model, decision, _scope(_library(model), typed), {}, path, typed)
    return imported.name, decision.name, value


def _service_parameters(definitions: Definitions, service: DecisionService) -> tuple[str, ...]:
    data = [definitions.input_data.get(ref, ref) for ref in service.input_data]
    decisions = [
        definitions.decisions[ref].name if ref in definitions.decisions else ref for ref in service.input_decisions
    ]
    return (*data, *decisions)


def _evaluate_service(
    definitions: Definitions, service: DecisionService, library: Mapping[str, Any], inputs: Mapping[str, Any]
) -> Any:
    """The service's output decisions from its parameters; input decisions are given, never evaluated."""
    scope: dict[str, Any] = {**library}
    scope.update({name: None for name in _service_parameters(definitions, service)})
    scope.update(inputs)
    results: dict[str, Any] = {}
    outputs = []
    for ref in service.outputs:
        decision = definitions.decisions.get(ref)
        if decision is None:
            raise DecisionError(f"decision service {service.name!r} outputs {ref!r}, which is not in the model")
        outputs.append((decision.name, _evaluate_decision(definitions, decision, dict(scope), results, (), inputs)))
    if len(outputs) == 1:
        return outputs[0][1]
    return dict(outputs)


def _service_function(definitions: Definitions, service: DecisionService, library: Mapping[str, Any]) -> FeelFunction:
    parameters = _service_parameters(definitions, service)

    def call(values: list[Any]) -> Any:
        given = dict(zip(parameters, values, strict=True))
        typed = {name: coerce_input(value, type_of(definitions, name)) for name, value in given.items()}
        if any(typed[name] is None and given[name] is not None for name in given):
            return None  # an argument of the wrong type: the service is not invoked (DMN 1.5, 10.4)
        return _evaluate_service(definitions, service, library, typed)

    return FeelFunction(service.name, parameters, call)


def _evaluate_decision(
    definitions: Definitions,
    decision: Decision,
    scope: dict[str, Any],
    results: dict[str, Any],
    path: tuple[str, ...],
    inputs: Mapping[str, Any] | None = None,
) -> Any:
    if decision.name in results:
        return results[decision.name]
    key = f"{definitions.namespace}#{decision.id}"  # ids are unique within a model only
    if key in path:
        raise DecisionError(f"decision {decision.name!r} requires itself")
    for required in decision.required_inputs:
        if "#" in required:  # an imported model's input data: `prefix.name` here
            _imported_input(definitions, required, scope, scope if inputs is None else inputs)
    for required in decision.required_decisions:
        if "#" in required:  # an imported model's decision: its value is `prefix.name` here
            given = scope if inputs is None else inputs
            prefix, name, value = _evaluate_imported(definitions, required, given, (*path, key))
            entries = scope.get(prefix)
            scope[prefix] = {**(entries if isinstance(entries, Mapping) else {}), name: value}
            continue
        other = definitions.decisions.get(required)
        if other is None:
            raise DecisionError(
                f"decision {decision.name!r} requires {required!r}, which is not in the model", unsupported=True
            )
        if other.name not in scope:
            scope[other.name] = _evaluate_decision(definitions, other, scope, results, (*path, key), inputs)
    if decision.name in scope and decision.name not in results and path:
        value = scope[decision.name]
    elif decision.logic is None:
        raise DecisionError(f"decision {decision.name!r} has no decision logic")
    else:
        decision_started(decision)
        value = coerce_result(evaluate_logic(decision.logic, scope), type_of(definitions, decision.name))
        decision_evaluated(decision, value)
    results[decision.name] = value
    return value


def evaluate_logic(logic: Logic, variables: Mapping[str, Any]) -> Any:
    if isinstance(logic, Literal):
        return evaluate_text(logic.text, variables)
    if isinstance(logic, DecisionTable):
        return evaluate_table(logic, variables, evaluate_text)
    if isinstance(logic, BoxedContext):
        scope = dict(variables)
        context: dict[str, Any] = {}
        for name, entry in logic.entries:
            value = evaluate_logic(entry, scope)
            if name is None:
                return value
            context[name] = scope[name] = value
        return context
    if isinstance(logic, BoxedList):
        return [evaluate_logic(item, variables) for item in logic.items]
    if isinstance(logic, BoxedFilter | BoxedIterator | BoxedConditional):
        return _evaluate_boxed(logic, variables)
    if isinstance(logic, FunctionDefinition):
        return function_value("function", logic, variables)
    if isinstance(logic, Invocation):
        return _invoke(logic, variables)
    assert isinstance(logic, Unsupported)
    raise DecisionError(f"{logic.kind} is not supported yet", unsupported=True)


MAX_CALL_DEPTH = 60
_calls = threading.local()


def _evaluate_boxed(logic: BoxedFilter | BoxedIterator | BoxedConditional, variables: Mapping[str, Any]) -> Any:
    if isinstance(logic, BoxedConditional):
        branch = logic.then if evaluate_logic(logic.condition, variables) is True else logic.otherwise
        return evaluate_logic(branch, variables)
    source = evaluate_logic(logic.source, variables)
    items = source if isinstance(source, list) else [source]
    if isinstance(logic, BoxedFilter):
        kept = []
        for item in items:
            scope = {**variables, **(item if isinstance(item, dict) else {}), "item": item}
            verdict = evaluate_logic(logic.match, scope)
            if verdict is not None and not isinstance(verdict, bool):
                return None  # FEEL: a filter that is not a boolean makes the whole filter null
            if verdict is True:
                kept.append(item)
        return kept
    values = [evaluate_logic(logic.body, {**variables, logic.variable: item}) for item in items]
    if logic.kind == "for":
        return values
    if any(value is not None and not isinstance(value, bool) for value in values):
        return None
    wanted = logic.kind == "some"  # some: any true decides; every: any false decides
    if any(value is wanted for value in values):
        return wanted
    return (not wanted) if all(isinstance(value, bool) for value in values) else None


def function_value(name: str, function: FunctionDefinition, closure: Mapping[str, Any]) -> FeelFunction:
    """A boxed function as a value FEEL can call; its body sees the closure and its parameters."""

    def call(values: list[Any]) -> Any:
        # A recursive model without a base case must fail with a clear error, not exhaust
        # Python's stack (each level of FEEL call takes a dozen frames).
        depth = getattr(_calls, "depth", 0)
        if depth >= MAX_CALL_DEPTH:
            raise DecisionError(f"{name}() calls nest deeper than {MAX_CALL_DEPTH}", unsupported=True)
        typed = [coerce_input(value, kind) for value, kind in zip(values, function.types, strict=False)]
        if any(after is None and before is not None for before, after in zip(values, typed, strict=False)):
            return None  # an argument that does not conform to its parameter's type (DMN: null)
        values = typed + list(values[len(typed) :])
        _calls.depth = depth + 1
        try:
            return evaluate_logic(function.body, {**closure, **dict(zip(function.parameters, values, strict=True))})
        finally:
            _calls.depth = depth

    return FeelFunction(name, function.parameters, call)


def _invoke(invocation: Invocation, variables: Mapping[str, Any]) -> Any:
    # The function is usually named, and a name may hold characters FEEL text cannot spell
    # without knowing the names in scope ("Pre-bureau risk category table"): look it up first.
    name = invocation.function.strip()
    function = variables[name] if name in variables else evaluate_text(invocation.function, variables)
    if not isinstance(function, FeelFunction):
        return None  # FEEL: invoking something that is not a function is null
    given = {name: evaluate_logic(logic, variables) if logic else None for name, logic in invocation.bindings}
    if set(given) - set(function.parameters):
        return None
    return function.call([given.get(name) for name in function.parameters])


# Characters DMN names may hold that FEEL text reads as operators ("Pre-bureau risk category").
_SPECIAL = re.compile(r"[-+*/'.]")


def quote_names(text: str, names: list[str]) -> str:
    """The text with the names in scope that hold such characters written in backticks.

    FEEL resolves `Pre-bureau risk category` against the names in scope; the FEEL parser works
    without a scope, so the decision graph, which knows it, quotes them (outside strings).
    """
    names = sorted((name for name in names if name in text), key=len, reverse=True)
    if not names:
        return text
    pattern = re.compile("|".join(re.escape(name) for name in names))
    parts = re.split(r'("(?:[^"\\]|\\.)*"|`[^`]*`)', text)
    return "".join(
        part if index % 2 else pattern.sub(lambda match: f"`{match.group()}`", part)
        for index, part in enumerate(parts)
    )


def evaluate_text(text: str, variables: Mapping[str, Any]) -> Any:
    """A FEEL expression's value; a run-time type error gives null (FEEL semantics)."""
    if not text.strip():
        return None
    text = quote_names(text, [name for name in variables if _SPECIAL.search(name)])
    try:
        expression = compile_feel(text, user_functions=True)
    except InvocationError:
        return None  # FEEL: a call with the wrong arguments is null
    except ExpressionError as exc:
        raise DecisionError(f"cannot compile {text!r}: {exc}", unsupported=True) from None
    try:
        return expression.evaluate(variables, now=_clock.get(), feel_values=True)
    except EvaluationError:
        return None
