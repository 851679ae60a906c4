"""FEEL translated to CEL source, once, at deploy time.

`translate(text)` parses the FEEL expression in `text` (after its "=") and returns CEL source
plus what evaluation must bind. The CEL runs with feel_builtins.FEEL_FUNCTIONS, whose
operators compute as FEEL does (see feel_operators), so the CEL keeps CEL's readable shape:

    =amount > 100                       amount > 100
    =order.total * 1.2                  feel_get(order, "total") * 1.2
    ="Order " + string(id)              "Order " + feel_string(id)
    =items[1]                           feel_index(items, 1)
    =if x > 1 then "big" else "small"   (x > 1) == true ? "big" : "small"
    =some i in items satisfies i.p > 1  feel_as_list(items).exists(i, (feel_get(i, "p") > 1) == true)
    =is defined(foo)                    feel_is_defined(_fs_defined, "foo", foo)

Variables. Every variable the expression reads is a *root*: evaluation binds it to the value
of the process variable of that name, or to null when there is none (Camunda's FEEL also reads
a missing variable as null; `x = null` is then true, `x > 1` is null, and a condition that ends
up null is an EvaluationError). Paths are null-safe the same way: `order.total` is null when
`order` or its `total` entry is missing.

Names with spaces. The tokenizer (feel_lexer) reads `Employee Badge Number` as one name; a
root's CEL identifier is then made up (`Employee_Badge_Number`, never clashing with another
name in the expression), and at evaluation time the root is looked up under each of its
*candidate* names in turn: the name as written, then with its words joined by single spaces
(so `Employee  Badge` in the file still finds the variable "Employee Badge"). The first
candidate present wins; none present means null. A name that contains a keyword (`Terms and
Conditions`) cannot be told from an expression and is read as one (`Terms and Conditions`):
write it in backticks or rename the variable.

Local names bound by `for`, `some`, `every` and filters (`item`) become CEL macro variables.
`now()` and `today()` read the engine clock that evaluation receives, never the wall clock.
A function definition (`function(a) a + 1`) becomes `feel_lambda(body text, parameters,
captured names)`: its body is compiled as an expression of its own, and calls of it (or of any
value: `f(1)`, `(function(a) a)(1)`) go through feel_invoke. CEL has no lambdas; the body's
compiled form is cached like any expression, so creating the function costs a dictionary.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from decimal import Decimal

from .cel import transpilable_name
from .errors import ExpressionError, InvocationError
from .feel_builtins import ALTERNATIVE_PARAMETERS, BUILTINS, PARAMETERS
from .feel_parser import (
    COMPARISONS,
    Between,
    Binary,
    Call,
    Context,
    For,
    FunctionDef,
    If,
    In,
    Index,
    InstanceOf,
    Invoke,
    Iteration,
    ListLit,
    Literal,
    Name,
    Node,
    Path,
    Quantified,
    Range,
    Unary,
    parse,
)

# Identifiers evaluation binds besides variables.
NOW, TODAY, DEFINED = "_fs_now", "_fs_today", "_fs_defined"

# CEL precedence levels, loosest first; a child below the level its position needs gets parentheses.
TERNARY, OR, AND, RELATION, ADDITIVE, MULTIPLICATIVE, UNARY, MEMBER = range(1, 9)

_CEL_RESERVED = frozenset(
    "as break const continue else false for function if import in let loop namespace null package return "
    "true var void while".split()
)
_SIMPLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT64 = (-(2**63), 2**63 - 1)
_MAX_INLINED = 10_000  # characters of CEL a context entry may grow to by inlining the entries it reads
_BOOLEAN_CALLS = frozenset(
    {"not", "is defined", "contains", "starts with", "ends with", "list contains", "matches"}
)


@dataclass(frozen=True)
class Root:
    """A variable the expression reads: the CEL identifier bound to it, and the names to try."""

    ident: str
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class Translation:
    cel: str
    roots: tuple[Root, ...]
    uses_now: bool = False
    uses_today: bool = False
    uses_defined: bool = False
    # A plain name or path (`=orderId`, `=applicant.email`): evaluation can read it directly.
    reference: tuple[Root, tuple[str, ...]] | None = None

    @property
    def idents(self) -> list[str]:
        return [root.ident for root in self.roots]


def translate(text: str, start: int = 0, *, user_functions: bool = False) -> Translation:
    """Translate the FEEL expression text[start:]; raises ExpressionError.

    With user_functions, a call of a name that is no built-in calls the variable of that name
    (a FeelFunction, as DMN binds its business knowledge models); otherwise it is refused.
    """
    tree = parse(text, start)
    translator = _Translator(text, _names_in(tree), user_functions=user_functions)
    cel, _ = translator.emit(tree)
    roots = tuple(translator.roots.values())
    reference = None
    if isinstance(tree, Name | Path) and not translator.flags:
        keys: list[str] = []
        node: Node = tree
        while isinstance(node, Path):
            keys.insert(0, node.key)
            node = node.base
        if isinstance(node, Name):
            reference = (translator.roots[node.name], tuple(keys))
    return Translation(
        cel=cel,
        roots=roots,
        uses_now="now" in translator.flags,
        uses_today="today" in translator.flags,
        uses_defined="defined" in translator.flags,
        reference=reference,
    )


def _names_in(node: Node) -> set[str]:
    """Every name and iteration variable in the tree, so made-up identifiers avoid them."""
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, Name):
            found.add(value.name)
        elif isinstance(value, Iteration):
            found.add(value.name)
        if isinstance(value, Node | Iteration):
            for item in fields(value):
                walk(getattr(value, item.name))
        elif isinstance(value, tuple):
            for item in value:
                walk(item)

    walk(node)
    return found


@dataclass
class _Translator:
    text: str
    taken: set[str]
    roots: dict[str, Root] = field(default_factory=dict)
    idents: dict[str, str] = field(default_factory=dict)  # FEEL name -> CEL identifier
    scopes: list[set[str]] = field(default_factory=list)  # local names, innermost last
    flags: set[str] = field(default_factory=set)
    user_functions: bool = False
    # CEL identifiers of the elements of enclosing filters written without `item` ([a > 1]).
    implicit: list[str] = field(default_factory=list)
    # Entries of enclosing context literals, by key: their CEL text, inlined where a later entry reads them.
    entries: list[dict[str, str]] = field(default_factory=list)

    def error(self, message: str, node: Node | int) -> ExpressionError:
        position = node if isinstance(node, int) else node.pos
        return ExpressionError(self.text, f"{message} at column {position + 1}", position + 1)

    # --- names

    def ident(self, name: str) -> str:
        """The CEL identifier of a FEEL name: the name itself when CEL can spell it, else made up."""
        if name in self.idents:
            return self.idents[name]
        if _SIMPLE.fullmatch(name) and self._usable(name):
            ident = name
        else:
            base = re.sub(r"\W+", "_", name, flags=re.ASCII).strip("_") or "v"
            if not base[0].isalpha():
                base = "v_" + base
            ident, counter = base, 1
            while not self._usable(ident) or ident in self.taken or ident in self.idents.values():
                counter += 1
                ident = f"{base}_{counter}"
        self.idents[name] = ident
        return ident

    @staticmethod
    def _usable(ident: str) -> bool:
        return ident not in _CEL_RESERVED and not ident.startswith("_fs") and transpilable_name(ident)

    def is_local(self, name: str) -> bool:
        return any(name in scope for scope in self.scopes)

    def name(self, node: Name) -> str:
        ident = self.ident(node.name)
        if not self.is_local(node.name) and node.name not in self.roots:
            candidates = tuple(dict.fromkeys([node.raw or node.name, node.name]))
            self.roots[node.name] = Root(ident, candidates)
        return ident

    # --- emission: every method returns (CEL text, precedence level)

    def emit(self, node: Node) -> tuple[str, int]:
        method = getattr(self, "emit_" + type(node).__name__.lower())
        return method(node)

    def sub(self, node: Node, level: int) -> str:
        text, precedence = self.emit(node)
        return text if precedence >= level else f"({text})"

    def condition(self, node: Node) -> str:
        # Only true counts as true (FEEL: null and non-booleans take the else branch / fail the test).
        return f"{self.sub(node, ADDITIVE)} == true"

    def emit_literal(self, node: Literal) -> tuple[str, int]:
        value = node.value
        if value is None:
            return "null", MEMBER
        if isinstance(value, bool):
            return ("true" if value else "false"), MEMBER
        if isinstance(value, int) and _INT64[0] <= value <= _INT64[1]:
            return str(value), MEMBER
        if isinstance(value, Decimal):
            return f"feel_decimal_literal({cel_string(str(value))})", MEMBER
        if isinstance(value, int | float):
            return repr(float(value)), MEMBER
        return cel_string(value), MEMBER

    def emit_name(self, node: Name) -> tuple[str, int]:
        if node.name == "item" and self.implicit and self.ident("item") == self.implicit[-1]:
            # The filter's element, unless it is a context with an entry named item (FEEL).
            element = self.implicit[-1]
            return f"feel_member_or({element}, {cel_string('item')}, {element})", MEMBER
        if not self.is_local(node.name):
            for entries in reversed(self.entries):
                if node.name in entries:
                    return f"({entries[node.name]})", MEMBER
        if self.implicit and not self.is_local(node.name):
            # FEEL: inside a filter, the element's context entries are in scope before variables.
            return f"feel_member_or({self.implicit[-1]}, {cel_string(node.name)}, {self.name(node)})", MEMBER
        return self.name(node), MEMBER

    def emit_listlit(self, node: ListLit) -> tuple[str, int]:
        return "[" + ", ".join(self.sub(item, TERNARY) for item in node.items) + "]", MEMBER

    def emit_context(self, node: Context) -> tuple[str, int]:
        keys: list[str] = []
        entries = []
        # A later entry may read an earlier one by name (FEEL): its CEL text is inlined there
        # (expressions are pure, so evaluating it twice gives the same value).
        earlier: dict[str, str] = {}
        self.entries.append(earlier)
        try:
            for key, position, value in node.entries:
                if key in keys:  # FEEL: null; BPMN refuses it at deploy (see InvocationError)
                    raise self.invocation_error(f"duplicate context key {key!r}", position)
                keys.append(key)
                text = self.sub(value, TERNARY)
                if len(text) > _MAX_INLINED:
                    raise self.error("context entries that read each other grow too large", position)
                earlier[key] = text
                entries.append(f"{cel_string(key)}: {text}")
        finally:
            self.entries.pop()
        return "{" + ", ".join(entries) + "}", MEMBER

    def emit_path(self, node: Path) -> tuple[str, int]:
        keys: list[str] = []
        base: Node = node
        while isinstance(base, Path):
            keys.insert(0, base.key)
            base = base.base
        return f"feel_get({self.sub(base, TERNARY)}, {', '.join(cel_string(k) for k in keys)})", MEMBER

    def emit_index(self, node: Index) -> tuple[str, int]:
        index = node.index
        literal = index.operand if isinstance(index, Unary) else index
        if isinstance(literal, Literal) and is_number_literal(literal.value):
            return f"feel_index({self.sub(node.base, TERNARY)}, {self.sub(index, TERNARY)})", MEMBER
        if ("item" in _names_in(index) and not self.is_local("item")) or _is_boolean(index):
            base = self.sub(node.base, TERNARY)
            element = self.ident("item")
            self.implicit.append(element)
            try:
                with_item = self.scoped(["item"], lambda: self.condition(index))
            finally:
                self.implicit.pop()
            return f"feel_as_list({base}).filter({element}, {with_item})", MEMBER
        return f"feel_index({self.sub(node.base, TERNARY)}, {self.sub(index, TERNARY)})", MEMBER

    def emit_unary(self, node: Unary) -> tuple[str, int]:
        return "-" + self.sub(node.operand, MEMBER), UNARY

    def emit_binary(self, node: Binary) -> tuple[str, int]:
        op = node.op
        if op == "**":
            return f"feel_power({self.sub(node.left, TERNARY)}, {self.sub(node.right, TERNARY)})", MEMBER
        if op in COMPARISONS:
            cel_op = {"=": "=="}.get(op, op)
            return f"{self.sub(node.left, ADDITIVE)} {cel_op} {self.sub(node.right, ADDITIVE)}", RELATION
        level = {
            "or": OR,
            "and": AND,
            "+": ADDITIVE,
            "-": ADDITIVE,
            "*": MULTIPLICATIVE,
            "/": MULTIPLICATIVE,
        }[op]
        cel_op = {"or": "||", "and": "&&"}.get(op, op)
        return f"{self.sub(node.left, level)} {cel_op} {self.sub(node.right, level + 1)}", level

    def emit_between(self, node: Between) -> tuple[str, int]:
        args = ", ".join(self.sub(n, TERNARY) for n in (node.value, node.low, node.high))
        return f"feel_between({args})", MEMBER

    def emit_in(self, node: In) -> tuple[str, int]:
        return f"feel_in({self.sub(node.value, TERNARY)}, {self.sub(node.container, TERNARY)})", MEMBER

    def emit_if(self, node: If) -> tuple[str, int]:
        condition = self.condition(node.condition)
        then = self.sub(node.then, OR)
        return f"{condition} ? {then} : {self.sub(node.otherwise, TERNARY)}", TERNARY

    def emit_for(self, node: For) -> tuple[str, int]:
        return self.iterate(node.iterations, lambda: self.sub(node.body, TERNARY), "map"), MEMBER

    def emit_quantified(self, node: Quantified) -> tuple[str, int]:
        macro = "exists" if node.kind == "some" else "all"
        return self.iterate(node.iterations, lambda: self.condition(node.condition), macro), MEMBER

    def iterate(self, iterations: tuple[Iteration, ...], body: Callable[[], str], macro: str) -> str:
        """Nested macros, one per iteration context; later domains may use earlier variables."""
        first, rest = iterations[0], iterations[1:]
        domain = self.domain(first.domain)
        if rest:
            inner = self.scoped([first.name], lambda: self.iterate(rest, body, macro))
        else:
            inner = self.scoped([first.name], body)
        text = f"{domain}.{macro}({self.ident(first.name)}, {inner})"
        # `for x in xs, y in ys` is one flat list of all combinations, as in FEEL.
        return f"feel_flatten1({text})" if macro == "map" and rest else text

    def domain(self, node: Node) -> str:
        if isinstance(node, ListLit):
            return self.sub(node, MEMBER)
        return f"feel_as_list({self.sub(node, TERNARY)})"

    def scoped(self, names: list[str], body: Callable[[], str]) -> str:
        self.scopes.append(set(names))
        try:
            return body()
        finally:
            self.scopes.pop()

    def emit_range(self, node: Range) -> tuple[str, int]:
        low, high = self.sub(node.low, TERNARY), self.sub(node.high, TERNARY)
        flags = f"{'true' if node.closed_low else 'false'}, {'true' if node.closed_high else 'false'}"
        return f"feel_range({low}, {high}, {flags})", MEMBER

    def emit_instanceof(self, node: InstanceOf) -> tuple[str, int]:
        return f"feel_instance_of({self.sub(node.value, TERNARY)}, {cel_string(node.type)})", MEMBER

    def emit_invoke(self, node: Invoke) -> tuple[str, int]:
        return self.invoke(self.sub(node.target, TERNARY), node.names, node.args), MEMBER

    def invoke(self, function: str, names: tuple[str, ...], args: tuple[Node, ...]) -> str:
        texts = [self.sub(arg, TERNARY) for arg in args]
        return f"feel_invoke({function}, [{', '.join(cel_string(n) for n in names)}], [{', '.join(texts)}])"

    def emit_functiondef(self, node: FunctionDef) -> tuple[str, int]:
        """A function value: its body is compiled on its own (FEEL text), closing over what it reads.

        The names the body reads, other than its parameters, are captured when the function is
        created: iteration variables, earlier context entries, and the expression's variables.
        """
        try:
            body = translate(node.text, user_functions=True)
        except ExpressionError as error:
            raise self.error(f"in the function body: {error.message}", node) from None
        captured: dict[str, str] = {}
        for root in body.roots:
            name = root.candidates[-1]
            if name in node.parameters or name in captured:
                continue
            captured[name] = self.emit_name(Name(node.pos, name, root.candidates[0]))[0]
        parameters = "[" + ", ".join(cel_string(p) for p in node.parameters) + "]"
        scope = "{" + ", ".join(f"{cel_string(k)}: {v}" for k, v in captured.items()) + "}"
        return f"feel_lambda({cel_string(node.text)}, {parameters}, {scope})", MEMBER

    def emit_call(self, node: Call) -> tuple[str, int]:
        name, args = node.name, node.args
        if self.is_local(name) or any(name in entries for entries in self.entries):
            # A function held by an iteration variable, a parameter or an earlier context entry.
            return self.invoke(self.emit_name(Name(node.pos, name, name))[0], node.names, args), MEMBER
        if name in ("now", "today"):
            self.arity(node, 0, 0)
            self.flags.add(name)
            return (NOW if name == "now" else TODAY), MEMBER
        if name == "not":
            self.arity(node, 1, 1)
            return "!" + self.sub(args[0], MEMBER), UNARY
        if name == "is defined":
            self.arity(node, 1, 1)
            return self.is_defined(args[0]), MEMBER
        builtin = BUILTINS.get(name)
        if builtin is None and self.user_functions:
            return self.invoke(self.name(Name(node.pos, name, name)), node.names, args), MEMBER
        if builtin is None:
            raise self.error(f"unknown or unsupported FEEL function '{name}()'", node)
        if node.names:
            # Several signatures may take the same names (before(point, range) and before(range,
            # point)): the one naming them in the order written wins, else the first with them all.
            signatures = [PARAMETERS.get(name, ()), *ALTERNATIVE_PARAMETERS.get(name, ())]
            parameters = next(
                (s for s in signatures if s[: len(node.names)] == node.names),
                next((s for s in signatures if set(node.names) <= set(s)), signatures[0]),
            )
            node = self.positional(node, parameters)
            args = node.args
        self.arity(node, builtin.min_args, builtin.max_args)
        texts = [self.sub(arg, TERNARY) for arg in args]
        if builtin.pack == "varargs" and len(texts) != 1 or builtin.pack == "all":
            texts = ["[" + ", ".join(texts) + "]"]
        elif builtin.pack == "rest":
            texts = [texts[0], "[" + ", ".join(texts[1:]) + "]"]
        return f"{builtin.function.__name__}({', '.join(texts)})", MEMBER

    def positional(self, node: Call, parameters: tuple[str, ...]) -> Call:
        """The call with its named arguments in parameter order.

        A parameter left out before the last one given is an error in BPMN (refused at deploy,
        where it is surely a mistake); in DMN (user_functions) it is null, as the DMN TCK has it
        (`is(value1: x)` is false).
        """
        unknown = [name for name in node.names if name not in parameters]
        if unknown:
            raise self.invocation_error(f"{node.name}() has no parameter {unknown[0]!r}", node)
        given = dict(zip(node.names, node.args, strict=True))
        builtin = BUILTINS.get(node.name)
        required = builtin.min_args if builtin is not None and self.user_functions else 0
        last = max([parameters.index(name) for name in given] + [required - 1])
        missing = [name for name in parameters[: last + 1] if name not in given]
        if missing and not self.user_functions:
            raise self.invocation_error(f"{node.name}() is missing the argument {missing[0]!r}", node)
        args = tuple(given.get(name, Literal(node.pos, None)) for name in parameters[: last + 1])
        return Call(node.pos, node.name, args)

    def invocation_error(self, message: str, node: Node | int) -> InvocationError:
        position = node if isinstance(node, int) else node.pos
        return InvocationError(self.text, f"{message} at column {position + 1}", position + 1)

    def arity(self, node: Call, low: int, high: int | None) -> None:
        count = len(node.args)
        if count < low or (high is not None and count > high):
            expected = (
                str(low) if low == high else f"{low} to {high}" if high is not None else f"at least {low}"
            )
            plural = "" if expected == "1" else "s"
            raise self.invocation_error(f"{node.name}() takes {expected} argument{plural}, got {count}", node)

    def is_defined(self, arg: Node) -> str:
        keys: list[str] = []
        base = arg
        while isinstance(base, Path):
            keys.insert(0, base.key)
            base = base.base
        if not isinstance(base, Name):
            raise self.error("is defined() expects a variable or a path, such as is defined(order.id)", arg)
        local = self.is_local(base.name)
        ident = self.name(base)
        if not local:
            self.flags.add("defined")
        parts = ["null" if local else DEFINED, cel_string(ident), ident]
        parts += [cel_string(key) for key in keys]
        return f"feel_is_defined({', '.join(parts)})"


def is_number_literal(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _is_boolean(node: Node) -> bool:
    """Whether an index expression is obviously a condition (a filter), not a position."""
    if isinstance(node, Binary):
        return node.op in COMPARISONS or node.op in ("and", "or")
    if isinstance(node, Literal):
        return isinstance(node.value, bool)
    if isinstance(node, Call):
        return node.name in _BOOLEAN_CALLS
    return isinstance(node, Between | In | Quantified)


def cel_string(value: str) -> str:
    """A CEL string literal for any text."""
    out = ['"']
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)
