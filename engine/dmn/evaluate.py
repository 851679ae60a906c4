"""The decision requirements graph: required decisions first, each once, then the decision."""

from __future__ import annotations

import contextvars
import datetime as dt
import re
import threading
from collections.abc import Mapping
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
)
from .tables import evaluate_table
from .types import coerce_input, coerce_result

# The clock of the evaluation in progress (evaluate(now=...)), for now() and today() deep inside it.
_clock: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("dmn_clock", default=None)


def evaluate(
    definitions: Definitions, decision: str, inputs: Mapping[str, Any], *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Evaluate the decision (id or name) and what it requires; {decision name: result}.

    A value in `inputs` under a decision's name stands for that decision (it is not evaluated).
    Inputs are converted to their declared typeRef (see types.py). `now` is the clock now()
    and today() read (the engine's; without one they are null). Raises DecisionError.
    """
    token = _clock.set(now)
    try:
        typed = {name: coerce_input(value, definitions.types.get(name)) for name, value in inputs.items()}
        return _evaluate(definitions, decision, typed)
    finally:
        _clock.reset(token)


def _evaluate(definitions: Definitions, decision: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    # Business knowledge models and decision services are functions every expression may call.
    library: dict[str, Any] = {}
    for name, function in definitions.knowledge.items():
        library[name] = function_value(name, function, library)
    for name, service in definitions.services.items():
        library[name] = _service_function(definitions, service, library)
    service = definitions.service(decision)
    if service is not None and definitions.find(decision) is None:
        value = _evaluate_service(definitions, service, library, inputs)
        return {service.name: as_json(value, strict=False)}
    target = definitions.find(decision)
    if target is None:
        raise DecisionError(f"no decision {decision!r} in the model")
    results: dict[str, Any] = {}
    _evaluate_decision(definitions, target, {**library, **inputs}, results, ())
    return as_json(results, strict=False)  # dates and durations as ISO text: results become JSON variables


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
        outputs.append((decision.name, _evaluate_decision(definitions, decision, dict(scope), results, ())))
    if len(outputs) == 1:
        return outputs[0][1]
    return dict(outputs)


def _service_function(definitions: Definitions, service: DecisionService, library: Mapping[str, Any]) -> FeelFunction:
    parameters = _service_parameters(definitions, service)

    def call(values: list[Any]) -> Any:
        given = dict(zip(parameters, values, strict=True))
        typed = {name: coerce_input(value, definitions.types.get(name)) for name, value in given.items()}
        if any(typed[name] is None and given[name] is not None for name in given):
            return None  # an argument of the wrong type: the service is not invoked (DMN 1.5, 10.4)
        return _evaluate_service(definitions, service, library, typed)

    return FeelFunction(service.name, parameters, call)


def _evaluate_decision(
    definitions: Definitions, decision: Decision, scope: dict[str, Any], results: dict[str, Any], path: tuple[str, ...]
) -> Any:
    if decision.name in results:
        return results[decision.name]
    if decision.id in path:
        raise DecisionError(f"decision {decision.name!r} requires itself")
    for required in decision.required_decisions:
        other = definitions.decisions.get(required)
        if other is None:
            raise DecisionError(
                f"decision {decision.name!r} requires {required!r}, which is not in the model", unsupported=True
            )
        if other.name not in scope:
            scope[other.name] = _evaluate_decision(definitions, other, scope, results, (*path, decision.id))
    if decision.name in scope and decision.name not in results and path:
        value = scope[decision.name]
    elif decision.logic is None:
        raise DecisionError(f"decision {decision.name!r} has no decision logic")
    else:
        value = coerce_result(evaluate_logic(decision.logic, scope), definitions.types.get(decision.name))
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
