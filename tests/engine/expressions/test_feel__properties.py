"""Properties: FEEL text generated at random evaluates as Python computes it (in decimals, as FEEL does)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.expressions import EvaluationError, compile_value
from tests.engine.expressions.support import runner  # noqa: F401 (runs each test under both runners)

# The `runner` fixture only switches a module setting before each test, so reusing it across
# hypothesis examples is fine.
SETTINGS = settings(
    max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

VARIABLES = {"a": 7, "b": -3, "c": 12, "Unit Price": 4}


# DMN's numbers: IEEE 754-2008 Decimal128 (34 digits, half even), written down here independently of the engine.
D128 = Context(prec=34, rounding=ROUND_HALF_EVEN)


def plain(value: Decimal) -> int | float:
    """How a result is stored: an integral value as an int, anything else as the nearest float."""
    return int(value) if value == value.to_integral_value() else float(value)


@st.composite
def arithmetic(draw: st.DrawFn, depth: int = 3) -> tuple[str, Decimal]:
    """(FEEL text, its exact decimal value) for arithmetic over integer literals and variables."""
    if depth == 0 or draw(st.booleans()):
        if draw(st.booleans()):
            name = draw(st.sampled_from(sorted(VARIABLES)))
            return name, Decimal(VARIABLES[name])
        number = draw(st.integers(-50, 50))
        return (f"({number})" if number < 0 else str(number)), Decimal(number)
    left_text, left = draw(arithmetic(depth - 1))
    right_text, right = draw(arithmetic(depth - 1))
    operator = draw(st.sampled_from(["+", "-", "*", "/"]))
    if operator == "/" and right == 0:
        operator = "*"
    result = {"+": D128.add, "-": D128.subtract, "*": D128.multiply, "/": D128.divide}[operator](left, right)
    return f"({left_text} {operator} {right_text})", result


@SETTINGS
@given(arithmetic())
def test_arithmetic_evaluates_as_python_computes(case: tuple[str, Decimal]) -> None:
    text, exact = case
    expected = plain(exact)
    result = compile_value("=" + text).evaluate(VARIABLES)
    assert type(result) is type(expected)
    assert result == expected


@SETTINGS
@given(arithmetic(), arithmetic(), st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
def test_comparisons_evaluate_as_python_computes(
    left: tuple[str, Decimal], right: tuple[str, Decimal], operator: str
) -> None:
    python = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[operator]
    expected = eval(f"left[1] {python} right[1]")  # noqa: S307 - two decimals and an operator
    condition = compile_value(f"={left[0]} {operator} {right[0]}")
    assert condition.evaluate_bool(VARIABLES) is expected


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


def feel_literal(value: Any) -> str:
    """The FEEL literal for a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"({value})" if value < 0 else str(value)
    if isinstance(value, float):
        text = repr(value)
        literal = f'number("{text}")' if "e" in text else text  # FEEL has no exponent notation
        return f"({literal})" if text.startswith("-") else literal
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
        return '"' + escaped.replace("\t", "\\t") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(feel_literal(item) for item in value) + "]"
    return "{" + ", ".join(f"{feel_literal(key)}: {feel_literal(item)}" for key, item in value.items()) + "}"


@SETTINGS
@given(JSON)
def test_json_values_written_as_feel_literals_evaluate_to_themselves(value: Any) -> None:
    if isinstance(value, str) and any(0xD800 <= ord(char) <= 0xDFFF for char in value):
        return  # lone surrogates cannot be written in a file
    assert as_decimals(compile_value("=" + feel_literal(value)).evaluate({})) == as_decimals(value)


def as_decimals(value: Any) -> Any:
    """Numbers as the decimals FEEL reads them (a double by its shortest form): number("5.7e+16") is
    the integer 57000000000000000, which is the double 5.7e16 read as FEEL does."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, list):
        return [as_decimals(item) for item in value]
    if isinstance(value, dict):
        return {key: as_decimals(item) for key, item in value.items()}
    return value


@SETTINGS
@given(JSON)
def test_variables_come_back_unchanged(value: Any) -> None:
    assert compile_value("=x").evaluate({"x": value}) == value
    assert compile_value("=[x][1]").evaluate({"x": value}) == value  # through the celpy program


KEYS = st.sampled_from(["a", "b", "Total Amount"])
NESTED = st.recursive(
    st.none() | st.integers(-5, 5) | st.text(max_size=3),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=8,
)


@SETTINGS
@given(NESTED, st.lists(KEYS, min_size=1, max_size=3))
def test_a_plain_path_reads_like_the_program_computes(data: Any, keys: list[str]) -> None:
    """`=x.a.b` is read straight from the variables; it must agree with the celpy program."""
    expression = compile_value("=x." + ".".join(keys))
    assert expression._plan.reference is not None
    try:
        shortcut: Any = expression.evaluate({"x": data})
    except EvaluationError as error:
        shortcut = ("error", error.message)
    try:
        program: Any = expression._run({"x": data}, None)
    except EvaluationError as error:
        program = ("error", error.message)
    assert shortcut == program
