"""FEEL's numeric built-ins on decimals (DMN 1.5 §10.3.4.5): 34 digits, the spec's rounding modes,
null outside a function's domain; a non-number is an error in BPMN and null in DMN."""

from __future__ import annotations

import pytest

from engine.dmn.evaluate import evaluate_text
from engine.expressions import EvaluationError, compile_value
from tests.engine.expressions.support import null_with_warning, runner  # noqa: F401 (runs each test under both runners)


def value(text: str, variables: dict[str, object] | None = None) -> object:
    return compile_value(text).evaluate(variables or {})


def exact(text: str, variables: dict[str, object] | None = None) -> object:
    """The result as FEEL's string() writes it: every digit the decimal has."""
    return value(f"=string({text})", variables)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        # DMN 1.5 table 76's examples, then ties, negative scales and decimals a double cannot hold
        ("decimal(1/3, 2)", "0.33"),
        ("decimal(1.5, 0)", "2"),
        ("decimal(2.5, 0)", "2"),  # half even
        ("decimal(-2.5, 0)", "-2"),
        ("decimal(1.125, 2)", "1.12"),
        ("decimal(1.135, 2)", "1.14"),
        ("decimal(1234.5, -2)", "1200"),
        ("decimal(1250, -2)", "1200"),
        ("decimal(1/3, 30)", "0.333333333333333333333333333333"),
        ("decimal(1/3, 40)", "0.3333333333333333333333333333333333"),  # 34 digits, then zeros
        ("round up(5.5, 0)", "6"),
        ("round up(-5.5, 0)", "-6"),
        ("round up(1.121, 2)", "1.13"),
        ("round up(-1.126, 2)", "-1.13"),
        ("round up(1.0000000000000000000001, 2)", "1.01"),  # a double would read 1.0
        ("round down(5.5, 0)", "5"),
        ("round down(-5.5, 0)", "-5"),
        ("round down(1.121, 2)", "1.12"),
        ("round down(-1.126, 2)", "-1.12"),
        ("round down(1999, -3)", "1000"),
        ("round half up(5.5, 0)", "6"),
        ("round half up(-5.5, 0)", "-6"),
        ("round half up(1.121, 2)", "1.12"),
        ("round half up(-1.126, 2)", "-1.13"),
        ("round half up(2.675, 2)", "2.68"),  # the double 2.675 is 2.67499999…: 2.67 in binary
        ("round half up(1.005, 2)", "1.01"),
        ("round half up(150, -2)", "200"),
        ("round half down(5.5, 0)", "5"),
        ("round half down(-5.5, 0)", "-5"),
        ("round half down(1.121, 2)", "1.12"),
        ("round half down(-1.126, 2)", "-1.13"),
        ("round half down(2.675, 2)", "2.67"),
        ("round half down(150, -2)", "100"),
        ("floor(1.5)", "1"),
        ("floor(-1.5)", "-2"),
        ("floor(-1.56, 1)", "-1.6"),
        ("floor(1.999999999999999999999)", "1"),  # a double would read 2.0
        ("floor(1567, -2)", "1500"),
        ("ceiling(1.5)", "2"),
        ("ceiling(-1.5)", "-1"),
        ("ceiling(-1.56, 1)", "-1.5"),
        ("ceiling(1.000000000000000000001)", "2"),
        ("ceiling(1501, -2)", "1600"),
    ],
)
def test_rounding_is_decimal(call: str, expected: str) -> None:
    assert exact(call) == expected


def test_rounding_results_are_ints_when_whole_and_decimals_otherwise() -> None:
    assert value("=decimal(2.5, 0)") == 2 and type(value("=decimal(2.5, 0)")) is int
    assert value("=round half up(1.125, 2)") == 1.13
    assert value("=floor(x, 2)", {"x": 1.567}) == 1.56
    assert exact("decimal(x, 1)", {"x": 0.1 + 0.2}) == "0.3"  # a double variable by its shortest form


@pytest.mark.parametrize(
    "call",
    [
        "decimal(1, 6177)",  # beyond Decimal128's scales
        "round up(1, -6112)",
        "decimal(null, 2)",
        "decimal(1.5, null)",
        "floor(null)",
    ],
)
def test_rounding_outside_the_scale_range_or_of_null_is_null(call: str) -> None:
    assert value("=" + call) is None


def test_a_fractional_scale_is_null_with_a_warning() -> None:
    null_with_warning("=decimal(1.5, 0.5)", match="whole number of digits")


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("abs(10)", "10"),
        ("abs(-10)", "10"),
        ("abs(-0.1)", "0.1"),
        ("abs(-1.00000000000000000001)", "1.00000000000000000001"),
        ("abs(-9223372036854775808)", "9223372036854775808"),  # beyond 64 bits: still a number
        ("modulo(12, 5)", "2"),
        ("modulo(-12, 5)", "3"),
        ("modulo(12, -5)", "-3"),
        ("modulo(-12, -5)", "-2"),
        ("modulo(10.1, 4.5)", "1.1"),
        ("modulo(-10.1, 4.5)", "3.4"),
        ("modulo(10.1, -4.5)", "-3.4"),
        ("modulo(-10.1, -4.5)", "-1.1"),
        ("modulo(12, 0.1)", "0"),  # a double's 0.1 would leave 0.0999…
        ("modulo(100000000000000000000000000001, 7)", "6"),  # 10 ** 29 = 5 (mod 7)
        ("sqrt(16)", "4"),
        ("sqrt(2)", "1.414213562373095048801688724209698"),
        ("sqrt(0.0001)", "0.01"),
        ("sqrt(0)", "0"),
        ("log(10)", "2.302585092994045684017991454684364"),
        ("log(1)", "0"),
        ("log(0.000000000000000000000000000001)", "-69.07755278982137052053974364053093"),
        ("exp(1)", "2.718281828459045235360287471352662"),
        ("exp(0)", "1"),
        ("exp(-1)", "0.3678794411714423215955237701614609"),
        ("exp(5)", "148.4131591025766034211155800405523"),
        ("2 ** 0.5", "1.414213562373095048801688724209698"),
        ("2 ** -2", "0.25"),
        ("1.1 ** 2", "1.21"),
        ("10 ** 40", "10000000000000000000000000000000000000000"),
    ],
)
def test_arithmetic_functions_are_decimal(call: str, expected: str) -> None:
    assert exact(call) == expected


@pytest.mark.parametrize(
    "call",
    [
        "sqrt(-1)",
        "log(0)",
        "log(-1)",
        "exp(100000)",  # beyond Decimal128
        "modulo(5, 0)",
        "modulo(5.5, 0.0)",
        "(-8) ** 0.5",
        "0 ** -1",
        "sqrt(null)",
        "modulo(null, 2)",
        "abs(null)",
    ],
)
def test_outside_the_domain_is_null(call: str) -> None:
    assert value("=" + call) is None


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("odd(5)", True),
        ("odd(-5)", True),
        ("odd(4)", False),
        ("odd(5.0)", True),
        ("odd(5.5)", False),
        ("even(4)", True),
        ("even(-4)", True),
        ("even(2.5)", False),
        ("even(0)", True),
        ("even(100000000000000000000000000000)", True),
        ("odd(100000000000000000000000000001)", True),
    ],
)
def test_odd_and_even(call: str, expected: bool) -> None:
    assert value("=" + call) is expected


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ('number("0.1") + number("0.2")', "0.3"),
        ('number("1.00000000000000000001")', "1.00000000000000000001"),
        ('number("12345678901234567890123")', "12345678901234567890123"),
        ('number("1e3")', "1000"),
        ('number("-1.5E-3")', "-0.0015"),
        ('number(".5")', "0.5"),
        ('number("1 000,5", " ", ",")', "1000.5"),
        ('number("1,000.5", ",", ".")', "1000.5"),
        ('number("1.000.000,01", ".", ",")', "1000000.01"),
        ("0.1 + 0.2", "0.3"),
        ("1.00000000000000000001", "1.00000000000000000001"),  # a literal with more than 17 digits
        ("12345678901234567890123 + 1", "12345678901234567890124"),
        ("9223372036854775807 + 1", "9223372036854775808"),  # past 64 bits
        ("1 / 3", "0.3333333333333333333333333333333333"),
        ("2 / 3", "0.6666666666666666666666666666666667"),  # half even at the 34th digit
    ],
)
def test_number_and_string_of_numbers(call: str, expected: str) -> None:
    assert exact(call) == expected


@pytest.mark.parametrize(
    "call",
    [
        'number("abc")',
        'number("1_000")',  # Python would read it
        'number("NaN")',
        'number("Infinity")',
        'number("")',
        'number("1 000", ",", ".")',  # the grouping separator is not in the text
        'number("1.000,5", ".", ".")',  # the same separator twice
        'number("1;5", ";", ".")',  # not a grouping separator FEEL knows
    ],
)
def test_text_that_is_not_a_number_is_null(call: str) -> None:
    assert value("=" + call) is None


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("sum([0.1, 0.2, 0.3])", "0.6"),
        ("sum(0.1, 0.2)", "0.3"),
        ("sum([9223372036854775807, 1])", "9223372036854775808"),
        ("mean([1, 2, 2])", "1.666666666666666666666666666666667"),
        ("mean(0.1, 0.2)", "0.15"),
        ("median(8, 2, 5, 3, 4)", "4"),
        ("median([6, 1, 2, 3])", "2.5"),
        ("median([0.1, 0.2])", "0.15"),
        ("median([1.00000000000000000002, 1.00000000000000000001, 5])", "1.00000000000000000002"),
        ("stddev(2, 4, 7, 5)", "2.081665999466132735282297706979931"),
        ("stddev([0.1, 0.2, 0.3])", "0.1"),
        ("product([2, 3, 4])", "24"),
        ("product(0.1, 0.2)", "0.02"),
        ("min([0.3, 0.1 + 0.2])", "0.3"),
        ("max([1.00000000000000000001, 1.00000000000000000002])", "1.00000000000000000002"),
        ("min(1, 0.99999999999999999999)", "0.99999999999999999999"),
    ],
)
def test_list_statistics_are_decimal(call: str, expected: str) -> None:
    assert exact(call) == expected


def test_mode() -> None:
    assert value("=mode(6, 3, 9, 6, 6)") == [6]
    assert value("=mode([6, 1, 9, 6, 1])") == [1, 6]
    assert value("=mode([])") == []
    assert value("=mode([1, 1.0, 2.5, 2.5])") == [1, 2.5]  # 1 and 1.0 are one number
    assert value("=mode([0.1 + 0.2, 0.3])") == [0.3]


@pytest.mark.parametrize(
    "call",
    ["median([])", "mean([])", "stddev([])", "stddev([47])", "product([])", "sum([1, null])", "median([1, null])"],
)
def test_empty_or_null_statistics_are_null(call: str) -> None:
    assert value("=" + call) is None


@pytest.mark.parametrize(
    "call",
    [
        'abs("x")',
        'floor("1.5")',
        'decimal(1.5, "2")',
        'modulo(true, 2)',
        'sqrt("16")',
        'log("e")',
        'exp([1, 2])',
        'odd("3")',
        'median([1, "2"])',
        'stddev([1, "2"])',
        'mode([1, "a"])',
    ],
)
def test_a_non_number_is_null_with_a_warning_in_bpmn_and_null_in_dmn(call: str) -> None:
    null_with_warning("=" + call, match="expects numbers")
    assert evaluate_text(call, {}) is None


def test_a_singleton_list_is_its_element() -> None:
    assert exact("sqrt([4])") == "2"
    assert exact("abs([-0.5])") == "0.5"
    assert exact("decimal([1.25], 1)") == "1.2"


def test_a_decimal_beyond_a_doubles_range_cannot_be_stored() -> None:
    assert exact("10 ** 400 / 10 ** 399") == "10"  # fine inside the expression
    with pytest.raises(EvaluationError, match="beyond a double's range"):
        value("=10 ** 400")
    assert evaluate_text("10 ** 400", {}) is None
