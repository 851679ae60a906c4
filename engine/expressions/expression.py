"""`Expression`: compiled once at deploy time, evaluated many times on the engine's hot path.

Compiling does all the work that does not depend on variables: FEEL is translated to CEL, the
CEL is parsed and turned into a program, the variables it reads are listed, and expressions
that read no variable are evaluated right away. Evaluating then binds only the variables the
expression reads (converted to celpy values) and runs the program.

Two shapes skip celpy at evaluation time because there is nothing to compute: a constant
(`=true`, `="approved"`, `=[1, 2]`, folded at compile time) and a plain reference (`=orderId`,
`=applicant.email`, the majority of input/output mappings in real files), which is a lookup
with the same null-safe semantics as feel_get. tests/engine/expressions check both shapes
against the celpy program.

Compiled expressions are cached by (dialect, source), so the engine can store only
`source` and `dialect` in its JSON graphs and re-create expressions cheaply on load.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from celpy import CELParseError, celtypes
from celpy.evaluation import CELEvalError

import engine.expressions.cel as cel
import engine.expressions.feel_temporal as feel_temporal

from .cel import Program
from .cel_functions import CEL_FUNCTIONS
from .errors import EvaluationError, ExpressionError, collecting_warnings, warn, warn_if_first
from .feel import DEFINED, NOW, TODAY, Root, Translation, translate
from .feel_builtins import FEEL_FUNCTIONS
from .feel_operators import FAILURES
from .values import FeelFunction, as_json, copy_plain, format_number, to_cel, to_plain

_NOTHING: Any = object()


@dataclass(frozen=True)
class _Plan:
    """How to evaluate: what to bind, and the program (or the shortcut) to run."""

    roots: tuple[Root, ...] = ()
    program: Program | None = None
    constant: Any = _NOTHING
    reference: tuple[Root, tuple[str, ...]] | None = None
    uses_now: bool = False
    uses_today: bool = False
    uses_defined: bool = False
    cel_now: bool = False  # a CEL expression reads `now`: the clock, unless a variable has that name


_STATIC = _Plan()


@dataclass(frozen=True)
class Expression:
    """A compiled expression. Build it with compile_value/feel/cel/condition, not directly."""

    source: str  # as written in the file, e.g. "=amount > 100"
    dialect: str  # "feel" | "feel-functions" (user functions callable, for DMN) | "cel" | "static"
    cel: str | None  # the CEL it compiled to (None for static)
    _plan: _Plan = field(default=_STATIC, compare=False, repr=False)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        # Pickling (caches, task queues) keeps only what defines the expression; unpickling
        # recompiles, which the compile cache makes cheap.
        return compile_expression, (self.source, self.dialect)

    @property
    def names(self) -> tuple[str, ...]:
        """The variables the expression reads (their names as written)."""
        return tuple(root.candidates[0] for root in self._plan.roots)

    def evaluate(
        self, variables: Mapping[str, Any], *, now: dt.datetime | None = None, feel_values: bool = False
    ) -> Any:
        """The value, as plain JSON-able Python. `now` is the engine clock, for now()/today().

        feel_values keeps FEEL's temporal values (feel_temporal) as objects instead of ISO text,
        for callers that feed results into further FEEL (DMN chains decisions that way).
        """
        plan = self._plan
        if self.dialect == "static":
            return self.source
        if plan.constant is not _NOTHING:
            value = copy_plain(plan.constant)
        elif plan.reference is not None:
            value = self._read(variables, *plan.reference)
        else:
            value = self._run(variables, now)
        if feel_values:
            return value
        try:
            return as_json(value)
        except EvaluationError as error:
            raise EvaluationError(error.message, self.source) from None

    def evaluate_bool(self, variables: Mapping[str, Any], *, now: dt.datetime | None = None) -> bool:
        """For conditions: the value must be true or false (null is an error, as in Camunda)."""
        value = self.evaluate(variables, now=now)
        if isinstance(value, bool):
            return value
        raise EvaluationError(
            f"the condition must be true or false, but it is {_describe(value)}{self.why(value, variables, now)}",
            self.source,
        )

    def evaluate_str(self, variables: Mapping[str, Any], *, now: dt.datetime | None = None) -> str:
        """For job types, correlation keys, assignees...: a string, or a number written as string() does."""
        value = self.evaluate(variables, now=now)
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return format_number(value)
        raise EvaluationError(
            f"expected a string or a number, but the value is {_describe(value)}{self.why(value, variables, now)}",
            self.source,
        )

    def explain(self, variables: Mapping[str, Any], *, now: dt.datetime | None = None) -> list[str]:
        """The warnings of an evaluation: why parts of it were null (type errors, failed calls...).

        Evaluates again with the warnings collected (evaluation is deterministic), so only the
        path that reports a problem pays for it; a failure of the whole evaluation is one warning.
        Variables that are not set are not warnings here: `why` names them apart.
        """
        if self.dialect == "static":
            return []
        with collecting_warnings() as warnings:
            try:
                if self._plan.program is not None:
                    self._run(variables, now)  # constants and references too: their program says why
                else:
                    self.evaluate(variables, now=now)
            except EvaluationError as error:
                warn(error.message)
        return warnings

    def why(self, value: Any, variables: Mapping[str, Any], now: dt.datetime | None = None) -> str:
        """What to add to a message that refuses `value` (this expression's result): for a null,
        the variables that are not set and the evaluation's warnings ("" when there is nothing)."""
        if value is not None or self.dialect == "static":
            return ""
        warnings = self.explain(variables, now=now)
        return _missing_hint(self._missing(variables)) + (
            f"; the evaluation reported: {'; '.join(warnings)}" if warnings else ""
        )

    # --- internals

    def _read(self, variables: Mapping[str, Any], root: Root, keys: tuple[str, ...]) -> Any:
        """A plain reference, read straight from the variables with feel_get's semantics."""
        value = _lookup(variables, root.candidates)
        for key in keys:
            if value is None:
                return None
            if isinstance(value, Mapping):
                value = value.get(key)
            elif isinstance(value, list) and all(item is None or isinstance(item, Mapping) for item in value):
                value = [None if item is None else item.get(key) for item in value]  # FEEL projection
            else:
                # A path into a string, a number, nested lists...: rare, so let the program give
                # exactly its answer (a date-time property, or the error).
                return self._run(variables, None)
        return copy_plain(value)

    def _run(self, variables: Mapping[str, Any], now: dt.datetime | None) -> Any:
        bindings, missing = self._bind(variables, now)
        assert self._plan.program is not None
        try:
            value = self._plan.program.run(bindings)
        except (CELEvalError, *FAILURES) as error:  # celpy's error value, or its interpreter's own failure
            if self.dialect == "cel":  # CEL keeps CEL's semantics: an error is an error
                raise EvaluationError(cel.error_message(error) + _missing_hint(missing), self.source) from error
            # FEEL: what celpy's own code could not compute (say a `for` over null) is null, as
            # the failures inside FEEL's operators and functions are (feel_operators.builtin).
            warn_if_first(cel.error_message(error))
            return None
        except Exception as error:  # anything a function let escape (deep recursion...)
            raise EvaluationError(cel.error_message(error) + _missing_hint(missing), self.source) from error
        try:
            return to_plain(value)
        except EvaluationError as error:
            raise EvaluationError(error.message, self.source) from None

    def _bind(
        self, variables: Mapping[str, Any], now: dt.datetime | None
    ) -> tuple[dict[str, Any], list[str]]:
        """The celpy bindings of the variables the expression reads (null when missing)."""
        plan = self._plan
        bindings: dict[str, Any] = {}
        present: set[str] = set()
        missing: list[str] = []
        try:
            for root in plan.roots:
                for name in root.candidates:
                    if name in variables:
                        bindings[root.ident] = to_cel(variables[name])
                        present.add(root.ident)
                        break
                else:
                    bindings[root.ident] = None
                    missing.append(root.candidates[0])
        except EvaluationError as error:
            raise EvaluationError(error.message, self.source) from None
        if plan.uses_defined:
            bindings[DEFINED] = frozenset(present)
        clock_variable = plan.cel_now and "now" not in present
        if plan.uses_now or plan.uses_today or clock_variable:
            if now is None:
                raise EvaluationError(
                    "the expression reads the clock (now), but no clock was given", self.source
                )
            clock = celtypes.TimestampType(now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC))
            bindings[NOW] = feel_temporal.from_python(clock)
            bindings[TODAY] = feel_temporal.from_python(clock.date())
            if clock_variable:
                bindings["now"] = clock
                missing.remove("now")
        return bindings, missing

    def _missing(self, variables: Mapping[str, Any]) -> list[str]:
        roots = self._plan.roots
        return [
            root.candidates[0] for root in roots if not any(name in variables for name in root.candidates)
        ]


def _lookup(variables: Mapping[str, Any], candidates: tuple[str, ...]) -> Any:
    for name in candidates:
        if name in variables:
            return variables[name]
    return None


def _missing_hint(missing: list[str]) -> str:
    return f" (not set: {', '.join(missing)})" if missing else ""


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


# --- compiling ----------------------------------------------------------------------------------


def compile_value(text: str) -> Expression:
    """A Camunda attribute: "=..." is a FEEL expression, anything else a static string."""
    if text.startswith("="):
        return compile_feel(text)
    return Expression(text, "static", None)


def compile_feel(text: str, *, user_functions: bool = False) -> Expression:
    """A FEEL expression, with or without its leading "=" (whitespace after it is allowed).

    user_functions: a call of an unknown name calls the variable of that name (DMN binds its
    business knowledge models as FeelFunction values); BPMN leaves it off, so a typo is refused.
    """
    return _compile("feel-functions" if user_functions else "feel", text)


def compile_cel(text: str) -> Expression:
    """A native CEL expression; an optional "cel:" prefix is ignored."""
    return _compile("cel", text)


def compile_condition(text: str, language: str | None = None) -> Expression:
    """A sequence-flow condition: "=..." is FEEL; "cel:..." or language "cel" is CEL."""
    if (language or "").lower() == "cel" or text.lstrip().startswith("cel:"):
        return compile_cel(text)
    if language and "feel" not in language.lower():
        raise ExpressionError(text, f"unsupported expression language {language!r} (use FEEL or CEL)")
    if text.lstrip().startswith("="):
        return compile_feel(text)
    raise ExpressionError(
        text, "a condition must be an expression: start it with '=' (FEEL) or 'cel:' (CEL)", 1
    )


def compile_expression(source: str, dialect: str) -> Expression:
    """Re-create an expression from what the engine stores: its source and dialect."""
    if dialect == "static":
        return Expression(source, "static", None)
    if dialect in ("feel", "feel-functions", "cel"):
        return _compile(dialect, source)
    raise ValueError(f"unknown expression dialect {dialect!r}")


@functools.lru_cache(maxsize=8192)
def _compile(dialect: str, text: str) -> Expression:
    body_start = _body_start(text, "cel:" if dialect == "cel" else "=")
    if text[body_start:].strip() == "":
        raise ExpressionError(text, "empty expression", body_start + 1)
    if dialect != "cel":
        translation = translate(text, body_start, user_functions=dialect == "feel-functions")
        plan = _feel_plan(text, translation)
        expression = Expression(text, dialect, translation.cel, plan)
    else:
        cel_text = text[body_start:]
        plan = _cel_plan(text, cel_text, body_start)
        expression = Expression(text, "cel", cel_text, plan)
    return _fold_constant(expression)


def _body_start(text: str, prefix: str) -> int:
    """Where the expression proper begins: after leading whitespace, the prefix, and whitespace."""
    position = len(text) - len(text.lstrip())
    if text.startswith(prefix, position):
        position += len(prefix)
    return position + len(text[position:]) - len(text[position:].lstrip())


def _feel_plan(text: str, translation: Translation) -> _Plan:
    try:
        tree = cel.parse(translation.cel)
    except CELParseError as error:  # a translator bug, never the user's: say so
        raise ExpressionError(
            text, f"internal error: the FEEL translation {translation.cel!r} is not valid CEL"
        ) from error
    _check_depth(text, tree)
    return _Plan(
        roots=translation.roots,
        program=Program(tree, _FEEL_TABLE, names=translation.idents + [NOW, TODAY, DEFINED]),
        reference=translation.reference,
        uses_now=translation.uses_now,
        uses_today=translation.uses_today,
        uses_defined=translation.uses_defined,
    )


def feel_lambda(body: Any, parameters: Any, captured: Any) -> Any:
    """A FEEL function definition's value: the body, compiled once, with the names it captured.

    Called by FEEL programs (feel.py emits it); the body runs as its own expression: a type
    error inside it is null there, as anywhere (its warning goes to the same collector), and
    what still fails the body (deep recursion) fails the call, which the caller sees as null.
    """
    expression = _compile("feel-functions", str(body))
    scope = {str(key): to_plain(value) for key, value in captured.items()}
    names = tuple(str(name) for name in parameters)

    def call(values: list[Any]) -> Any:
        try:
            return expression.evaluate({**scope, **dict(zip(names, values, strict=True))}, feel_values=True)
        except EvaluationError as error:
            raise TypeError(error.message) from None
        except RecursionError:
            raise TypeError("function calls nest too deeply") from None

    return FeelFunction("function", names, call)


# FEEL programs call the built-ins, the operators, and feel_lambda (which compiles, so lives here).
_FEEL_TABLE = {**FEEL_FUNCTIONS, "feel_lambda": feel_lambda}


def _cel_plan(text: str, cel_text: str, offset: int) -> _Plan:
    try:
        tree = cel.parse(cel_text)
    except CELParseError as error:
        column = (getattr(error, "column", None) or 1) + offset
        raise ExpressionError(text, f"CEL syntax error at column {column}", column) from None
    _check_depth(text, tree)
    found = cel.scan(tree)
    known = set(cel.known_functions(CEL_FUNCTIONS))
    for name, column in found.calls:
        if name not in known:
            where = f" at column {column + offset}" if column else ""
            raise ExpressionError(
                text, f"unknown CEL function '{name}'{where}", column + offset if column else None
            )
    roots = tuple(Root(name, (name,)) for name in found.free)
    return _Plan(
        roots=roots,
        program=Program(tree, CEL_FUNCTIONS, names=[*found.free, *found.bound]),
        cel_now="now" in found.free,
    )


def _check_depth(text: str, tree: Any) -> None:
    if cel.depth(tree) > cel.MAX_DEPTH:
        raise ExpressionError(text, "the expression is nested too deeply; split it into several mappings")


def _fold_constant(expression: Expression) -> Expression:
    """An expression that reads nothing always has the same value: compute it now, once."""
    plan = expression._plan
    if plan.roots or plan.uses_now or plan.uses_today or plan.program is None:
        return expression
    try:
        value = to_plain(plan.program.run({DEFINED: frozenset()}))
    except Exception:  # it fails at run time, where the error belongs (an incident, not a deploy error)
        return expression
    return Expression(expression.source, expression.dialect, expression.cel, _replace(plan, constant=value))


def _replace(plan: _Plan, **changes: Any) -> _Plan:
    return _Plan(**{**plan.__dict__, **changes})
