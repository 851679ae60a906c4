"""FEEL parser: tokens into a small syntax tree.

Recursive descent over FEEL's precedence levels, lowest first:

    if/for/some/every  <  or  <  and  <  comparison (= != < <= > >= between in)
    <  + -  <  * /  <  **  <  unary -  <  postfix (.name  [index]  (args))  <  primary

Function definitions (`function(a, b) a + b`) keep the source text of their body, which is
compiled on its own when the function is created (feel.py). `x instance of T` keeps T as
written. Ranges (`[1..5]`, `(a..b]`, `]1..5[`) are values that `in` tests against.
Constructs outside the supported subset are refused here, with the construct named and the
column given: unary tests (`< 5`) outside decision tables. A temporal literal
(`@"2024-01-01"`) is read as the call of date(), date and time(), duration() or time().
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from .errors import ExpressionError
from .feel_lexer import Token, tokenize

COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">="})


@dataclass(frozen=True)
class Node:
    pos: int  # offset of the construct in the source text


@dataclass(frozen=True)
class Literal(Node):
    value: None | bool | int | float | Decimal | str  # a Decimal: a number no double holds exactly


@dataclass(frozen=True)
class Name(Node):
    name: str  # words joined by single spaces
    raw: str  # as written


@dataclass(frozen=True)
class ListLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Context(Node):
    entries: tuple[tuple[str, int, Node], ...]  # (key, key offset, value)


@dataclass(frozen=True)
class Path(Node):
    base: Node
    key: str


@dataclass(frozen=True)
class Index(Node):
    base: Node
    index: Node


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]
    names: tuple[str, ...] = ()  # parameter names when the call names its arguments (all or none)


@dataclass(frozen=True)
class Unary(Node):
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # FEEL spelling: + - * / ** = != < <= > >= and or
    left: Node
    right: Node


@dataclass(frozen=True)
class Between(Node):
    value: Node
    low: Node
    high: Node


@dataclass(frozen=True)
class In(Node):
    value: Node
    container: Node


@dataclass(frozen=True)
class FunctionDef(Node):
    parameters: tuple[str, ...]
    body: Node
    text: str  # the body's source text


@dataclass(frozen=True)
class InstanceOf(Node):
    value: Node
    type: str  # as written, words joined by single spaces: "date and time", "list<number>"


@dataclass(frozen=True)
class Invoke(Node):
    """The call of a value that is not a name: `(function(a) a)(1)`, `ctx.f(2)`."""

    target: Node
    args: tuple[Node, ...]
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Range(Node):
    low: Node
    high: Node
    closed_low: bool
    closed_high: bool


@dataclass(frozen=True)
class If(Node):
    condition: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class Iteration:
    name: str
    pos: int
    domain: Node


@dataclass(frozen=True)
class For(Node):
    iterations: tuple[Iteration, ...]
    body: Node


@dataclass(frozen=True)
class Quantified(Node):
    kind: str  # "some" | "every"
    iterations: tuple[Iteration, ...]
    condition: Node


def parse(text: str, start: int = 0) -> Node:
    """The syntax tree of the FEEL expression text[start:]; raises ExpressionError."""
    return _Parser(text, tokenize(text, start)).parse()


class _Parser:
    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0
        self.range_depth = 0  # inside the high bound of a range

    # --- token helpers

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def at(self, kind: str, value: str | None = None) -> bool:
        return self.token.kind == kind and (value is None or self.token.value == value)

    def accept(self, kind: str, value: str) -> bool:
        if self.at(kind, value):
            self.index += 1
            return True
        return False

    def expect(self, kind: str, value: str, context: str) -> Token:
        if not self.at(kind, value):
            refused = self.refused(self.token)
            if refused is not None:
                raise refused
            raise self.error(f"expected '{value}' {context}, found {describe(self.token)}", self.token)
        return self.advance()

    def error(self, message: str, token: Token | int) -> ExpressionError:
        position = token if isinstance(token, int) else token.start
        return ExpressionError(self.text, f"{message} at column {position + 1}", position + 1)

    def unsupported(self, construct: str, token: Token | int) -> ExpressionError:
        return self.error(f"unsupported FEEL construct '{construct}'", token)

    def unexpected(self, token: Token) -> ExpressionError:
        refused = self.refused(token)
        if refused is not None:
            return refused
        if token.kind == "keyword" and token.value == "not":
            return self.error("unexpected 'not' (FEEL negation is not(x))", token)
        return self.error(f"unexpected {describe(token)}", token)

    def refused(self, token: Token) -> ExpressionError | None:
        """The error for a token that starts a construct outside the subset, if it does."""
        if token.kind == "op" and token.value == "..":
            return self.unsupported("range (..) outside brackets", token)
        return None

    # --- grammar

    def parse(self) -> Node:
        if self.at("end"):
            raise self.error("empty expression", self.token)
        if self.token.kind == "op" and self.token.value in COMPARISONS:
            raise self.unsupported(f"unary test ({self.token.value} ...)", self.token)
        node = self.expression()
        if not self.at("end"):
            raise self.unexpected(self.token)
        return node

    def expression(self) -> Node:
        token = self.token
        if token.kind == "keyword" and token.value in ("if", "for", "some", "every"):
            return self.textual()
        return self.disjunction()

    def textual(self) -> Node:
        token = self.advance()
        if token.value == "if":
            condition = self.expression()
            self.expect("keyword", "then", "after the if condition")
            then = self.expression()
            self.expect("keyword", "else", "after the then branch (FEEL requires an else)")
            return If(token.start, condition, then, self.expression())
        iterations = [self.iteration(token.value)]
        while self.accept("op", ","):
            iterations.append(self.iteration(token.value))
        if token.value == "for":
            self.expect("keyword", "return", "after the for iteration")
            return For(token.start, tuple(iterations), self.expression())
        self.expect("keyword", "satisfies", f"after the {token.value} iteration")
        return Quantified(token.start, token.value, tuple(iterations), self.expression())

    def iteration(self, keyword: str) -> Iteration:
        name = self.token
        if name.kind != "name":
            raise self.error(f"expected a variable name after '{keyword}', found {describe(name)}", name)
        self.advance()
        self.expect("keyword", "in", f"after '{keyword} {name.value}'")
        domain = self.expression()
        if keyword == "for" and self.accept("op", ".."):
            # `for i in 1..3`: the whole numbers from one bound to the other (either direction).
            domain = Call(domain.pos, "feel numbers from", (domain, self.expression()))
        return Iteration(name.value, name.start, domain)

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.at("keyword", "or"):
            token = self.advance()
            node = Binary(token.start, "or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.comparison()
        while self.at("keyword", "and"):
            token = self.advance()
            node = Binary(token.start, "and", node, self.comparison())
        return node

    def comparison(self) -> Node:
        node = self.additive()
        token = self.token
        if token.kind == "op" and token.value in COMPARISONS:
            self.advance()
            return Binary(token.start, token.value, node, self.additive())
        if token.kind == "keyword" and token.value == "between":
            self.advance()
            low = self.additive()
            self.expect("keyword", "and", "between the bounds of 'between'")
            return Between(token.start, node, low, self.additive())
        if token.kind == "keyword" and token.value == "in":
            self.advance()
            if self.token.kind == "op" and self.token.value in COMPARISONS:
                raise self.unsupported(f"unary test (in {self.token.value} ...)", self.token)
            return In(token.start, node, self.additive())
        if token.kind == "keyword" and token.value == "instance of":
            self.advance()
            return InstanceOf(token.start, node, self.type_name())
        return node

    def type_name(self) -> str:
        """A type after `instance of`, read from the source text (it may contain keywords)."""
        text, end = self.type_text(self.token.start)
        while self.token.kind != "end" and self.token.start < end:
            self.advance()
        return text

    def type_text(self, position: int) -> tuple[str, int]:
        match = _TYPE.match(self.text, position)
        if match is None or not match.group().strip():
            raise self.error("expected a type name", position)
        name, end = " ".join(match.group().split()), match.end()
        rest = self.text[end:]
        if rest.lstrip().startswith("<"):
            end += len(rest) - len(rest.lstrip())
            depth, index = 0, end
            while index < len(self.text):
                depth += {"<": 1, ">": -1}.get(self.text[index], 0)
                index += 1
                if depth == 0:
                    break
            if depth:
                raise self.error("unclosed '<' in the type", end)
            name += re.sub(r"\s*([<>,:])\s*", r"\1", " ".join(self.text[end:index].split()))
            end = index
            rest = self.text[end:]
            if rest.lstrip().startswith("->"):
                result, end = self.type_text(end + len(rest) - len(rest.lstrip()) + 2)
                name += "->" + result
        return name, end

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.token.kind == "op" and self.token.value in ("+", "-"):
            token = self.advance()
            node = Binary(token.start, token.value, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.power()
        while self.token.kind == "op" and self.token.value in ("*", "/"):
            token = self.advance()
            node = Binary(token.start, token.value, node, self.power())
        return node

    def power(self) -> Node:
        node = self.unary()
        while self.at("op", "**"):
            token = self.advance()
            node = Binary(token.start, "**", node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at("op", "-"):
            token = self.advance()
            return Unary(token.start, self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while True:
            token = self.token
            if self.accept("op", "."):
                key = self.token
                if key.kind != "name":
                    raise self.error(f"expected a name after '.', found {describe(key)}", key)
                self.advance()
                node = Path(token.start, node, key.value)
            elif self.at("op", "[") and self.closes_range():
                return node
            elif self.accept("op", "["):
                index = self.expression()
                if self.at("op", ".."):
                    raise self.unsupported("range (..)", self.token)
                self.expect("op", "]", "to close the index")
                node = Index(token.start, node, index)
            elif self.at("op", "("):
                args, names = self.arguments("the call")
                node = Invoke(token.start, node, args, names)
            else:
                return node

    def primary(self) -> Node:
        token = self.token
        if token.kind == "number":
            self.advance()
            return Literal(token.start, _number(token.value))
        if token.kind == "string":
            self.advance()
            return Literal(token.start, token.value)
        if token.kind == "temporal":
            self.advance()
            return Call(token.start, _temporal_function(token.value), (Literal(token.start, token.value),))
        if token.kind == "name":
            self.advance()
            if self.at("op", "("):
                return self.call(token)
            return Name(token.start, token.value, token.raw)
        if token.kind == "keyword":
            if token.value in ("true", "false", "null"):
                self.advance()
                return Literal(token.start, {"true": True, "false": False, "null": None}[token.value])
            if token.value in ("if", "for", "some", "every"):
                return self.textual()
            if token.value == "not" and self.peek().kind == "op" and self.peek().value == "(":
                self.advance()
                return self.call(token)
            if token.value == "function":
                return self.function_definition()
        if self.accept("op", "("):
            node = self.expression()
            if self.at("op", ".."):
                return self.range(token, node)
            self.expect("op", ")", "to close the parenthesis")
            return node
        if self.accept("op", "["):
            return self.list_literal(token)
        if self.at("op", "]"):  # ]a..b[ : a range open at its start
            self.advance()
            node = self.expression()
            if not self.at("op", ".."):
                raise self.error(f"expected '..' in the range, found {describe(self.token)}", self.token)
            return self.range(token, node)
        if self.accept("op", "{"):
            return self.context(token)
        raise self.unexpected(token)

    def closes_range(self) -> bool:
        """Whether a '[' is the end of a range open at its end (`]1..5[`), not an index."""
        if not self.range_depth:
            return False
        following = self.peek()
        return following.kind in ("end", "keyword") or (following.kind == "op" and following.value in ",)]}")

    def range(self, open_token: Token, low: Node) -> Node:
        self.expect("op", "..", "in the range")
        self.range_depth += 1
        try:
            high = self.expression()
        finally:
            self.range_depth -= 1
        close = self.token
        if not (close.kind == "op" and close.value in (")", "]", "[")):
            raise self.error(f"expected ']', ')' or '[' to close the range, found {describe(close)}", close)
        self.advance()
        return Range(open_token.start, low, high, open_token.value == "[", close.value == "]")

    def function_definition(self) -> Node:
        token = self.advance()
        self.expect("op", "(", "after 'function'")
        parameters: list[str] = []
        if not self.accept("op", ")"):
            while True:
                name = self.token
                if name.kind != "name":
                    raise self.error(f"expected a parameter name, found {describe(name)}", name)
                self.advance()
                if self.accept("op", ":"):  # a parameter type: read and ignored
                    self.type_name()
                parameters.append(name.value)
                if self.accept("op", ")"):
                    break
                self.expect("op", ",", "between parameters")
        if self.token.kind == "name" and self.token.value == "external":
            raise self.unsupported("external function", self.token)
        start = self.token.start
        body = self.expression()
        end = self.tokens[self.index - 1].end
        return FunctionDef(token.start, tuple(parameters), body, self.text[start:end])

    def call(self, name: Token) -> Node:
        args, names = self.arguments(f"{name.value}()")
        return Call(name.start, name.value, args, names)

    def arguments(self, what: str) -> tuple[tuple[Node, ...], tuple[str, ...]]:
        self.expect("op", "(", "")
        args: list[Node] = []
        names: list[str] = []
        if not self.accept("op", ")"):
            while True:
                if self.token.kind == "name" and self.peek().kind == "op" and self.peek().value == ":":
                    names.append(self.advance().value)
                    self.advance()
                elif names:
                    raise self.error("positional argument after named ones", self.token)
                args.append(self.expression())
                if names and len(names) != len(args):
                    raise self.error("mix of named and positional arguments", self.token)
                if self.accept("op", ")"):
                    break
                self.expect("op", ",", f"between the arguments of {what}")
        return tuple(args), tuple(names)

    def key_with_symbols(self, first: Token) -> str:
        """A context key that holds FEEL's extra name symbols (`foo+bar`, `a-b`): its text up to ':'."""
        while self.token.kind in ("name", "number") or (self.token.kind == "op" and self.token.value in "+-*/."):
            self.advance()
        if not self.at("op", ":"):
            return first.value
        return " ".join(self.text[first.start : self.token.start].split())

    def list_literal(self, open_token: Token) -> Node:
        items: list[Node] = []
        if not self.accept("op", "]"):
            while True:
                items.append(self.expression())
                if self.at("op", "..") and not items[1:]:
                    return self.range(open_token, items[0])
                if self.accept("op", "]"):
                    break
                self.expect("op", ",", "between list items")
        return ListLit(open_token.start, tuple(items))

    def context(self, open_token: Token) -> Node:
        entries: list[tuple[str, int, Node]] = []
        if not self.accept("op", "}"):
            while True:
                key = self.token
                if key.kind not in ("name", "string"):
                    raise self.error(f"expected a context key, found {describe(key)}", key)
                self.advance()
                name = key.value
                if key.kind == "name" and not self.at("op", ":"):
                    name = self.key_with_symbols(key)
                self.expect("op", ":", f"after the context key {name!r}")
                entries.append((name, key.start, self.expression()))
                if self.accept("op", "}"):
                    break
                self.expect("op", ",", "between context entries")
        return Context(open_token.start, tuple(entries))


_DATE = re.compile(r"-?\d{4,}-\d\d-\d\d")
# A type name's words (keywords included: `date and time`); <...> parameters are read by type_name().
_TYPE = re.compile(
    r"\s*(?:date and time|days and time duration|years and months duration"
    r"|[^\W\d]\w*(?:[ \t]+(?!and\b|or\b|then\b|else\b|return\b|satisfies\b|in\b)[^\W\d]\w*)*)"
)


def _temporal_function(text: str) -> str:
    """Which constructor an @"..." literal stands for, read from its shape as FEEL says."""
    if text.startswith(("P", "-P")):
        return "duration"
    if _DATE.fullmatch(text):
        return "date"
    if _DATE.match(text):
        return "date and time"
    return "time"


def describe(token: Token) -> str:
    if token.kind == "end":
        return "end of expression"
    if token.kind == "name":
        return f"name {token.value!r}"
    if token.kind == "string":
        return "a string"
    if token.kind == "number":
        return f"number {token.value}"
    return f"'{token.value}'"


_INT64 = (-(2**63), 2**63 - 1)


def _number(text: str) -> int | float | Decimal:
    """A number literal: an int or a double when one holds it exactly (by its shortest form, as
    values.to_decimal reads doubles), else the decimal itself (FEEL numbers have 34 digits)."""
    if "." not in text:
        whole = int(text)
        return whole if _INT64[0] <= whole <= _INT64[1] else Decimal(text)
    double = float(text)
    return double if Decimal(repr(double)) == Decimal(text) else Decimal(text)
