"""Native CEL expressions, condition routing, compiling once, and the two celpy runners."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from engine.expressions import (
    EvaluationError,
    ExpressionError,
    cel,
    compile_cel,
    compile_condition,
    compile_expression,
    compile_feel,
    compile_value,
)
from tests.engine.expressions.support import runner  # noqa: F401 (runs each test under both runners)

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def value(text: str, variables: dict[str, object] | None = None) -> object:
    return compile_cel(text).evaluate(variables or {}, now=NOW)


def test_a_cel_expression() -> None:
    expression = compile_cel("amount > 100 && status == 'OK'")
    assert expression.dialect == "cel"
    assert expression.cel == "amount > 100 && status == 'OK'"
    assert expression.evaluate_bool({"amount": 150, "status": "OK"}) is True
    assert expression.names == ("amount", "status")


def test_the_cel_prefix() -> None:
    expression = compile_cel("cel: amount > 100")
    assert expression.source == "cel: amount > 100"
    assert expression.cel == "amount > 100"
    assert expression.evaluate({"amount": 101}) is True


def test_conditions_choose_their_language() -> None:
    assert compile_condition("=amount > 100").dialect == "feel"
    assert compile_condition("cel:amount > 100").dialect == "cel"
    assert compile_condition("amount > 100", language="cel").dialect == "cel"
    assert compile_condition("amount > 100", language="CEL").dialect == "cel"
    assert compile_condition("=amount > 100", language="feel").dialect == "feel"
    assert compile_condition("\n  =amount > 100\n").evaluate_bool({"amount": 101}) is True


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("7 / 2", {}, 3),  # CEL integer division
        ("7.0 / 2.0", {}, 3.5),
        ("'Hello ' + name", {"name": "Ann"}, "Hello Ann"),
        ("size(items)", {"items": [1, 2]}, 2),
        ("items.exists(i, i.price > 10)", {"items": [{"price": 5}, {"price": 11}]}, True),
        ("items.all(i, i.price > 10)", {"items": [{"price": 5}, {"price": 11}]}, False),
        ("items.map(i, i * 2)", {"items": [1, 2]}, [2, 4]),
        ("items.filter(i, i > 1)", {"items": [1, 2, 3]}, [2, 3]),
        ("has(order.total)", {"order": {"total": 1}}, True),
        ("has(order.discount)", {"order": {"total": 1}}, False),
        ("order.total > 100 ? 'big' : 'small'", {"order": {"total": 101}}, "big"),
        ("name.startsWith('A') && name.endsWith('n')", {"name": "Ann"}, True),
        ("'nn' in ['a', 'nn']", {}, True),
        ("{'a': [1, 2.5, null, true]}", {}, {"a": [1, 2.5, None, True]}),
        ("timestamp('2024-05-01T10:00:00Z') + duration('1h')", {}, "2024-05-01T11:00:00Z"),
        ("items[0]", {"items": ["first"]}, "first"),
    ],
)
def test_cel_semantics(text: str, variables: dict[str, object], expected: object) -> None:
    assert value(text, variables) == expected


def test_type_names_are_types_not_variables() -> None:
    assert value("type(x) == int", {"x": 1}) is True
    assert value("type(x) == string", {"x": 1}) is False
    assert value("string(x) + '!'", {"x": 1}) == "1!"
    assert compile_cel("type(x) == int").names == ("x",)


def test_numbers_compare_across_int_and_double() -> None:
    assert value("amount > 100", {"amount": 100.5}) is True
    assert value("1 < 1.5") is True
    assert value("x == 1", {"x": 1.0}) is True


def test_equality_across_types_is_false() -> None:
    assert value("x == null", {"x": 3}) is False
    assert value("x != null", {"x": 3}) is True
    assert value("x == '1'", {"x": 1}) is False


def test_arithmetic_stays_strict() -> None:
    with pytest.raises(EvaluationError) as caught:
        value("1 + 1.5")
    assert caught.value.message == (
        "no such overload: int + double (CEL does not mix int and double: convert with double() or int())"
    )
    with pytest.raises(EvaluationError, match="no such overload: string - int"):
        value("'a' - 1")
    with pytest.raises(EvaluationError, match="division by zero"):
        value("1 / x", {"x": 0})


def test_every_table_function_is_reachable_by_module_and_name() -> None:
    # celpy's generated code calls functions as module.qualname; a closure would silently
    # push every expression onto the slower interpreter.
    import importlib

    from engine.expressions.cel_functions import CEL_FUNCTIONS
    from engine.expressions.feel_builtins import FEEL_FUNCTIONS

    for function in [*CEL_FUNCTIONS.values(), *FEEL_FUNCTIONS.values()]:
        target: object = importlib.import_module(function.__module__)
        for part in function.__qualname__.split("."):
            target = getattr(target, part)
        assert target is function


def test_missing_variables_are_null() -> None:
    assert value("x == null") is True
    with pytest.raises(EvaluationError, match=r"\(not set: x\)"):
        value("x > 1")


def test_now_is_the_engine_clock() -> None:
    assert value("now") == "2024-05-01T12:00:00Z"
    assert value("now > timestamp(due)", {"due": "2024-04-01T00:00:00Z"}) is True
    assert value("now", {"now": "a variable wins"}) == "a variable wins"
    with pytest.raises(EvaluationError, match="no clock was given"):
        compile_cel("now").evaluate({})


def test_unknown_functions_are_deploy_errors() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_cel("cel:foo(x) > 1")
    assert caught.value.message == "unknown CEL function 'foo' at column 5"
    assert caught.value.column == 5
    with pytest.raises(ExpressionError, match="unknown CEL function 'shout'"):
        compile_cel("name.shout()")


def test_syntax_errors_have_a_column() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_cel("cel:amount >")
    assert caught.value.message == "CEL syntax error at column 12"
    assert caught.value.column == 12


def test_a_name_python_cannot_spell_still_evaluates() -> None:
    expression = compile_cel("class + 1")
    assert expression.evaluate({"class": 1}) == 2
    assert expression._plan.program is not None
    assert expression._plan.program.runner == "interpreted"


# --- compiling once


FEEL_CORPUS = [
    "=amount > 100",
    "=order.total * 1.2",
    '=status = "OK"',
    "=not(approved)",
    "=count(items)",
    "=items[1]",
    '="Hello " + name',
    '=if x > 1 then "big" else "small"',
    "=some i in items satisfies i.price > 10",
    "=for i in items return i.price",
    "=items[item.price > 10]",
    "=is defined(foo.bar)",
    "=now() + duration(period)",
    "={a: x, b: [y, z]}",
    '=string join(for n in names return upper case(n), ", ")',
    "=Employee Badge Number between 1 and 10 or class = null",
]


@pytest.mark.parametrize("text", FEEL_CORPUS)
def test_feel_compiles_to_a_transpiled_program(text: str, runner: str) -> None:  # noqa: F811
    program = compile_value(text)._plan.program
    assert program is not None
    assert program.runner == ("transpiled" if runner == "auto" else "interpreted")


def test_evaluation_never_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    expressions = [compile_value(text) for text in FEEL_CORPUS] + [compile_cel("size(items) > 1")]

    def no_parsing(*args: object) -> None:
        raise AssertionError("parsed at evaluation time")

    monkeypatch.setattr(cel, "parse", no_parsing)
    monkeypatch.setattr("engine.expressions.feel.parse", no_parsing)
    variables = {"amount": 1, "items": [{"price": 20}], "x": 2, "names": ["a"], "period": "P1D"}
    for expression in expressions:
        try:
            expression.evaluate(variables, now=NOW)
        except EvaluationError:
            pass  # some need other variables; the point is that nothing was parsed


def test_compiled_expressions_are_cached_and_recreated_from_source_and_dialect() -> None:
    assert compile_value("=amount > 100") is compile_value("=amount > 100")
    for original in [compile_value("=amount > 100"), compile_cel("x + 1"), compile_value("static text")]:
        again = compile_expression(original.source, original.dialect)
        assert again == original
        assert again.evaluate({"amount": 101, "x": 1}) == original.evaluate({"amount": 101, "x": 1})
    with pytest.raises(ValueError, match="unknown expression dialect"):
        compile_expression("x", "python")


def test_expressions_pickle_as_their_source_and_dialect() -> None:
    import copy
    import pickle

    for original in [compile_value("=amount > 100"), compile_cel("x + 1"), compile_value("text")]:
        restored = pickle.loads(pickle.dumps(original))
        assert restored == original
        assert restored.evaluate({"amount": 101, "x": 1}) == original.evaluate({"amount": 101, "x": 1})
        assert copy.deepcopy(original) == original


def test_expressions_compare_by_source_dialect_and_cel() -> None:
    assert compile_feel("=a") == compile_feel("=a")
    assert compile_feel("=a") != compile_feel("= a")
    assert {compile_feel("=a"), compile_feel("=a")} == {compile_feel("=a")}


def test_concurrent_evaluations_do_not_mix_variables() -> None:
    expression = compile_value('="order " + string(id) + " for " + customer.name')
    failures: list[str] = []

    def work(worker: int) -> None:
        for i in range(200):
            result = expression.evaluate({"id": worker * 1000 + i, "customer": {"name": f"c{worker}"}})
            if result != f"order {worker * 1000 + i} for c{worker}":
                failures.append(result)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
