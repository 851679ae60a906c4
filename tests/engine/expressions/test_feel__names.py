"""Names, paths, indexes, names with spaces, and how missing variables read."""

from __future__ import annotations

import pytest

from engine.expressions import compile_value
from tests.engine.expressions.support import runner  # noqa: F401 (runs each test under both runners)


def value(text: str, variables: dict[str, object] | None = None) -> object:
    return compile_value(text).evaluate(variables or {})


ORDER = {
    "orderId": "A-17",
    "applicant": {"email": "ann@example.com", "address": {"city": "Oslo"}},
    "order": {"total": 250, "items": [{"sku": "x", "price": 5}, {"sku": "y", "price": 12}]},
    "result": None,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=orderId", "A-17"),
        ("=applicant.email", "ann@example.com"),
        ("=applicant.address.city", "Oslo"),
        ("=order.items", ORDER["order"]["items"]),  # type: ignore[index]
        ("=result", None),
    ],
)
def test_names_and_paths(text: str, expected: object) -> None:
    assert value(text, ORDER) == expected


def test_a_plain_reference_returns_a_copy() -> None:
    items = value("=order.items", ORDER)
    items.append("extra")  # type: ignore[union-attr]
    assert len(ORDER["order"]["items"]) == 2  # type: ignore[index]


def test_missing_variables_and_entries_read_as_null() -> None:
    assert value("=nothing") is None
    assert value("=applicant.phone", ORDER) is None
    assert value("=missing.deeper.still") is None
    assert value("=nothing = null") is True
    assert value("=applicant.phone = null", ORDER) is True
    assert value("=applicant.email != null", ORDER) is True


def test_a_path_over_a_list_projects_each_element() -> None:
    assert value("=order.items.sku", ORDER) == ["x", "y"]
    assert value("=order.items.price", ORDER) == [5, 12]
    assert value("=[{a: 1}, {b: 2}].a") == [1, None]


def test_indexes_are_one_based_and_negative_from_the_end() -> None:
    items = {"items": ["a", "b", "c"]}
    assert value("=items[1]", items) == "a"
    assert value("=items[3]", items) == "c"
    assert value("=items[-1]", items) == "c"
    assert value("=items[-3]", items) == "a"
    assert value("=items[4]", items) is None
    assert value("=items[0]", items) is None
    assert value("=items[i]", {**items, "i": 2}) == "b"
    assert value("=order.items[2].price", ORDER) == 12


def test_names_with_spaces_resolve_against_the_variables() -> None:
    variables = {"Employee Badge Number": 4711, "Current Status": {"name": "open"}}
    expression = compile_value("=Employee Badge Number")
    assert expression.cel == "Employee_Badge_Number"
    assert expression.evaluate(variables) == 4711
    assert value("=Current Status.name", variables) == "open"
    assert value('=Employee Badge Number > 4000 and Current Status.name = "open"', variables) is True


def test_a_name_written_with_extra_spaces_finds_the_variable() -> None:
    assert value("=Employee   Badge\tNumber", {"Employee Badge Number": 1}) == 1
    assert value("=Employee   Badge", {"Employee   Badge": 2, "Employee Badge": 3}) == 2


def test_a_name_with_spaces_never_swallows_a_keyword() -> None:
    flags = {"first flag": True, "second flag": False}
    assert value("=first flag and second flag", flags) is False
    assert value("=first flag or second flag", flags) is True
    assert value("=if first flag then 1 else 2", flags) == 1
    assert value("=some x in my list satisfies x > 2", {"my list": [1, 3]}) is True
    assert value("=for x in my list return x + 1", {"my list": [1, 3]}) == [2, 4]
    assert value(
        "=my value between low bound and high bound", {"my value": 2, "low bound": 1, "high bound": 3}
    )


def test_made_up_identifiers_never_clash_with_other_names() -> None:
    expression = compile_value("=[Badge Number, Badge_Number]")
    assert expression.evaluate({"Badge Number": 1, "Badge_Number": 2}) == [1, 2]


def test_context_keys_with_spaces_are_paths() -> None:
    assert value("=person.Date of Birth", {"person": {"Date of Birth": "1990-01-01"}}) == "1990-01-01"
    assert value("=Address Line 2", {"Address Line 2": "c/o"}) == "c/o"


def test_backtick_names_are_taken_literally() -> None:
    assert value("=`order-id`", {"order-id": 9}) == 9
    assert value("=`Terms and Conditions`", {"Terms and Conditions": True}) is True


@pytest.mark.parametrize("name", ["class", "var", "package", "nested_activation", "_fs_now", "__class__"])
def test_variables_named_like_reserved_words_are_read(name: str) -> None:
    assert value(f"={name} + 1", {name: 1}) == 2


def test_local_names_shadow_variables() -> None:
    assert value("=x + sum(for x in xs return x * 10)", {"x": 1, "xs": [1, 2]}) == 31


def test_is_defined_tells_a_missing_variable_from_a_null_one() -> None:
    assert value("=is defined(foo)") is False
    assert value("=is defined(foo)", {"foo": None}) is True
    assert value("=is defined(foo.bar)", {"foo": {"bar": None}}) is True
    assert value("=is defined(foo.bar)", {"foo": {}}) is False
    assert value("=is defined(foo.bar)", {"foo": "text"}) is False
    assert value("=is defined(Employee Badge Number)", {"Employee Badge Number": 1}) is True
    assert value("=some x in [{a: 1}] satisfies is defined(x.a)") is True
    assert value("=not(is defined(foo)) and bar", {"bar": True}) is True


def test_names_lists_the_variables_read() -> None:
    expression = compile_value("=if Current Status.name = x then y else count(for i in z return i)")
    assert expression.names == ("Current Status", "x", "y", "z")
