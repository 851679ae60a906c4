"""celpy, compiled once and evaluated many times.

`Program` wraps one parsed CEL expression. It is built at deploy time and evaluated on the
engine's hot path, so all parsing and code generation happens in the constructor:

- The expression is parsed once with celpy's parser.
- It is then handed to celpy's own transpiler (`celpy.evaluation.Transpiler`, the engine behind
  `celpy.CompiledRunner`), which turns the tree into Python lambdas. celpy's `CompiledRunner`
  re-executes the generated module on every evaluation and passes the variables through a
  module global, which is slow and not thread-safe; we execute the generated module once into a
  private namespace and keep its entry function, so an evaluation is one Python call.
- The variables of one evaluation live in a `_Scope`: a dict with the two methods the
  generated code calls on an activation (attribute lookup, `nested_activation` for macros).
  celpy's general `Activation` resolves protobuf package paths with regexes on every lookup,
  which costs more than the whole comparison we are evaluating.
- If transpiling fails (a celpy limitation, or a name the generated Python cannot spell, such
  as a Python keyword), the program falls back to celpy's tree-walking `Evaluator`; both paths
  give the same results (every test in tests/engine/expressions runs under both).

This module also scans an expression for the variables it reads, so evaluation binds exactly
those, and for the functions it calls, so an unknown one is a deploy-time error. The CEL
dialect's function table is in cel_functions.py.
"""

from __future__ import annotations

import importlib
import keyword
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from string import Template
from typing import Any

import celpy
import celpy.evaluation
import lark
from celpy import celtypes
from celpy.evaluation import (
    Activation,
    CELEvalError,
    Evaluator,
    Phase1Transpiler,
    Phase2Transpiler,
    Transpiler,
    TranspilerTree,
)

from .values import FALSE, TRUE, CelValue, cel_double, cel_int, cel_str

Function = Callable[..., Any]

# Method-call names the CEL grammar treats as macros (bound variable + expression).
MACROS = frozenset({"map", "filter", "all", "exists", "exists_one", "reduce", "min"})
# Function-call names that are macros: has(a.b), dyn(x).
CALL_MACROS = frozenset({"has", "dyn"})

# Created at import: celpy.Environment raises the recursion limit (to 2500) for deeply nested
# expressions, and that process-wide change is better made once, up front.
_environment = celpy.Environment()
_parser_lock = threading.Lock()


def parse(text: str) -> lark.Tree:
    """Parse CEL source; raises celpy.CELParseError (with .line/.column) on a syntax error."""
    with _parser_lock:  # celpy's parser keeps the text being parsed on the instance
        return _environment.compile(text)


# celpy evaluates by recursion over the parse tree; beyond this depth (a 200-term
# concatenation reaches about 410) it can exhaust even the raised recursion limit.
MAX_DEPTH = 450


def depth(tree: lark.Tree) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in node.children if isinstance(child, lark.Tree))
    return deepest


# --- free variables and called functions -------------------------------------------------------


@dataclass
class Scan:
    """What a CEL expression refers to: root variable names and (name, column) of calls."""

    free: list[str] = field(default_factory=list)
    calls: list[tuple[str, int | None]] = field(default_factory=list)
    bound: set[str] = field(default_factory=set)  # every macro variable, for name checks


def scan(tree: lark.Tree) -> Scan:
    result = Scan()
    _scan(tree, frozenset(), result)
    return result


def _scan(tree: lark.Tree, bound: frozenset[str], out: Scan) -> None:
    data = tree.data
    children = tree.children
    if data in ("ident", "dot_ident"):
        name = str(children[0])
        # `int`, `string`, `timestamp`...: as in CEL, these name types and functions, not variables.
        if name not in bound and name not in out.free and name not in celpy.evaluation.base_functions:
            out.free.append(name)
        return
    if data == "ident_arg":
        token = children[0]
        out.calls.append((str(token), getattr(token, "column", None)))
        _scan_children(children[1:], bound, out)
        return
    if data == "member_dot_arg":
        member, token, *rest = children
        _scan(member, bound, out)
        args = rest[0].children if rest else []
        if str(token) in MACROS and len(args) >= 2:
            names = [_macro_variable(arg) for arg in args[:-1]]
            if str(token) == "reduce":  # reduce(acc, item, init, expr): init sees no new names
                _scan(args[2], bound, out)
                names = names[:2]
            out.bound.update(names)
            _scan(args[-1], bound | set(names), out)
        else:
            out.calls.append((str(token), getattr(token, "column", None)))
            _scan_children(rest, bound, out)
        return
    _scan_children(children, bound, out)


def _scan_children(children: list[Any], bound: frozenset[str], out: Scan) -> None:
    for child in children:
        if isinstance(child, lark.Tree):
            _scan(child, bound, out)


def _macro_variable(tree: lark.Tree) -> str:
    idents = list(tree.find_data("ident"))
    return str(idents[0].children[0]) if idents else ""


# --- evaluation ---------------------------------------------------------------------------------


class _Scope:
    """The variables of one evaluation, shaped like the activation celpy's generated code expects.

    The generated code reads a variable `x` as `activation.x`, and macros bind their variable
    with `activation.nested_activation(vars={...})`; nothing else is used. Values are celpy
    values, except hidden bindings (feel.DEFINED) that only our own functions read.
    """

    __slots__ = ("_fs_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._fs_values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fs_values[name]
        except KeyError:
            # Like celpy's Activation: a name that is no variable may be a type (`type(x) == int`).
            if name in celpy.evaluation.base_functions:
                return celpy.evaluation.base_functions[name]
            raise NameError(name) from None

    def resolve_variable(self, name: str) -> Any:  # `.x` (root-scoped name) in generated code
        return self.__getattr__(name)

    def nested_activation(self, annotations: Any = None, vars: Mapping[str, Any] | None = None) -> _Scope:
        return _Scope({**self._fs_values, **vars}) if vars else self


# Names the generated code cannot use as `activation.<name>`.
_SCOPE_ATTRIBUTES = frozenset({"_fs_values", "resolve_variable", "nested_activation"})
_FINAL_STATEMENT = re.compile(r"CEL = celpy\.evaluation\.result\(base_activation, (?P<entry>.*)\)")


def transpilable_name(name: str) -> bool:
    return not (keyword.iskeyword(name) or name.startswith("__") or name in _SCOPE_ATTRIBUTES)


# How programs run: "auto" (transpiled, falling back to the interpreter), "interpreted" or
# "transpiled". Tests run every case under both runners by switching this.
RUNNER = "auto"


class Program:
    """One CEL expression, ready to evaluate with `run(bindings)`.

    `functions` overrides or extends celpy's standard functions (operators included: "_+_",
    "_==_", ...). `names` are the identifiers the expression binds (the generated Python must
    be able to spell them).
    """

    def __init__(
        self,
        tree: lark.Tree,
        functions: Mapping[str, Function],
        names: list[str] | None = None,
        runner: str | None = None,
    ) -> None:
        runner = runner or RUNNER
        self.tree = tree
        self.functions = functions
        self._entry: Callable[[Any], Any] | None = None
        if runner != "interpreted" and all(transpilable_name(n) for n in names or ()):
            self._entry = _transpile(tree, functions)
        if self._entry is None and runner == "transpiled":
            raise ValueError("this expression cannot be transpiled")
        self.runner = "transpiled" if self._entry is not None else "interpreted"
        self._activation = None if self._entry is not None else Activation(functions=dict(functions))

    def run(self, bindings: Mapping[str, Any]) -> CelValue:
        """Evaluate; raises CELEvalError (or, rarely, another exception) when evaluation fails."""
        if self._entry is not None:
            value = celpy.evaluation.result(_Scope(bindings), self._entry)
            if isinstance(value, CELEvalError):
                raise value
            return value
        assert self._activation is not None
        return Evaluator(self.tree, self._activation.nested_activation(vars=bindings)).evaluate()


def _transpile(tree: lark.Tree, functions: Mapping[str, Function]) -> Callable[[Any], Any] | None:
    try:
        transpiler = _LazyTernary(ast=_transpiler_tree(tree), activation=Activation(functions=dict(functions)))
        transpiler.transpile()
        *statements, final = transpiler.source_text.strip().split("\n")
        match = _FINAL_STATEMENT.fullmatch(final)
        if match is None:
            return None
        namespace = dict(vars(celpy.evaluation))
        namespace["celpy"] = _GENERATED_CODE_CELPY
        namespace["_fs_taken"] = _taken
        namespace["_fs_other"] = _other
        for function in functions.values():  # generated code calls them as module.qualname
            package = function.__module__.split(".")[0]
            namespace.setdefault(package, importlib.import_module(package))
        source = "\n".join([*statements, f"_fs_entry = {match.group('entry')}"])
        exec(compile(source, "<cel>", "exec"), namespace)  # noqa: S102 - code generated by celpy
        return namespace["_fs_entry"]
    except Exception:  # any transpiler limitation: the interpreter handles the expression
        return None


class _LazyTernary(Transpiler):
    """celpy's transpiler, except that `c ? a : b` evaluates only the branch `c` picks.

    celpy's generated code computes both branches and then picks one (its interpreter does
    not); FEEL's `if` must not, or a recursive function never reaches its base case.
    """

    def transpile(self) -> None:
        _LazyTernaryPhase1(self).visit(self.ast)
        phase_2 = Phase2Transpiler(self)
        phase_2.visit(self.ast)
        self.source_text = "\n".join(phase_2.statements(self.ast))


def _taken(condition: Any) -> bool:
    """Whether `condition ? a : b` takes `a` (an error or a non-boolean takes neither branch)."""
    return isinstance(condition, celtypes.BoolType | bool) and bool(condition)


def _other(condition: Any) -> bool:
    """Whether `condition ? a : b` takes `b`."""
    return isinstance(condition, celtypes.BoolType | bool) and not condition


class _LazyTernaryPhase1(Phase1Transpiler):
    def expr(self, tree: TranspilerTree) -> None:
        if len(tree.children) != 3:
            super().expr(tree)
            return
        n = tree.expr_number
        function = self.func_name("_?_:_")
        # Like celpy's interpreter: the branch not taken is false, never evaluated.
        taken = "_fs_taken(c)"
        statements = (
            "# expr:\n"
            "ex_${n}_c = lambda activation: ${cond}\n"
            "ex_${n}_l = lambda activation: ${left}\n"
            "ex_${n}_r = lambda activation: ${rght}\n"
            f"ex_${{n}}_p = lambda activation, c: {function}(c, "
            f"celpy.evaluation.result(activation, ex_${{n}}_l) if {taken} else celpy.celtypes.BoolType(False), "
            f"celpy.evaluation.result(activation, ex_${{n}}_r) if _fs_other(c) else celpy.celtypes.BoolType(False))\n"
            "ex_${n} = lambda activation: ex_${n}_p(activation, celpy.evaluation.result(activation, ex_${n}_c))"
        )
        tree.checked_exception = (
            Template(statements),
            {
                "n": lambda tree: str(tree.expr_number),
                "cond": lambda tree: tree.children[0].transpiled,
                "left": lambda tree: tree.children[1].transpiled,
                "rght": lambda tree: tree.children[2].transpiled,
            },
        )
        tree.transpiled = f"ex_{n}(activation)"


class _Forward:
    """A module as generated code sees it: `overrides` first, the real module for the rest."""

    def __init__(self, module: Any, **overrides: Any) -> None:
        self._module = module
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


# Generated code builds every literal on every evaluation (celtypes.IntType(100), ...); these
# give the same values without the general constructors' cost (see values.cel_int).


def _int_type(value: Any = 0) -> Any:
    if type(value) is int and (result := cel_int(value)) is not None:
        return result
    return celtypes.IntType(value)


def _string_type(value: Any = "") -> Any:
    return cel_str(value) if type(value) is str else celtypes.StringType(value)


def _bool_type(value: Any) -> Any:
    return (TRUE if value else FALSE) if type(value) is bool else celtypes.BoolType(value)


def _double_type(value: Any) -> Any:
    return cel_double(value) if type(value) is float else celtypes.DoubleType(value)


_GENERATED_CODE_CELPY = _Forward(
    celpy,
    celtypes=_Forward(
        celtypes, IntType=_int_type, StringType=_string_type, BoolType=_bool_type, DoubleType=_double_type
    ),
    evaluation=celpy.evaluation,
)


def _transpiler_tree(tree: lark.Tree) -> TranspilerTree:
    # celpy's parser is a process-wide singleton whose tree class is fixed by whoever created
    # it first; copy into the node class the transpiler annotates.
    children = [_transpiler_tree(c) if isinstance(c, lark.Tree) else c for c in tree.children]
    return TranspilerTree(tree.data, children, tree._meta if hasattr(tree, "_meta") else None)


def error_message(error: BaseException) -> str:
    """A readable message for a failed evaluation, without celpy's internal dumps."""
    cause: BaseException | None = error
    while isinstance(cause, CELEvalError) and cause.__cause__ is not None:
        cause = cause.__cause__
    if isinstance(cause, ZeroDivisionError):
        return "division by zero"
    if isinstance(cause, KeyError):
        return f"no such key: {str(cause.args[0])!r}" if cause.args else "no such key"
    if isinstance(cause, NameError):
        return f"unknown name {cause.args[0]!r}" if cause.args else "unknown name"
    if isinstance(cause, IndexError):
        return "list index out of range"
    if cause is not None and cause.args and isinstance(cause.args[0], str):
        message = cause.args[0]
    else:
        message = str(cause or error)
    # celpy appends a dump of the whole activation (variable values included) to some messages.
    return message.split(" (in activation")[0].split(" (in container")[0][:300]


def known_functions(table: Mapping[str, Function]) -> Iterator[str]:
    """Every function name a program with this table can call (macros included)."""
    yield from celpy.evaluation.base_functions
    yield from table
    yield from MACROS
    yield from CALL_MACROS
