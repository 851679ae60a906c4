"""Variable filters: `[{"name": ..., "value": <serialised JSON or operator object>}]`.

Values compare as JSON (`"\\"A-1\\""` matches the string A-1, `"42"` the number 42); `$like`
compares the serialised text.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Exists, OuterRef, Q, TextField
from django.db.models.functions import Cast
from rest_framework.exceptions import ParseError

from engine.api.parsers import check_json
from engine.api.search import fail, like_regex
from engine.models import Variable


def _json(text: Any, where: str) -> Any:
    if not isinstance(text, str):
        raise fail(f'{where}: expected a serialised JSON value (a string such as "\\"A-1\\"")')
    try:
        value = json.loads(text)
        check_json(value)
    except (ValueError, RecursionError, ParseError):
        raise fail(f"{where}: '{text[:100]}' is not serialised JSON this server can compare") from None
    return value


def value_q(value: Any, where: str) -> Q:
    """The condition on Variable.value for one filter value."""
    if not isinstance(value, dict):
        return Q(value=_json(value, where))
    q = Q()
    for op, operand in value.items():
        at = f"{where}.{op}"
        if op == "$eq":
            q &= Q(value=_json(operand, at))
        elif op == "$neq":
            q &= ~Q(value=_json(operand, at))
        elif op in ("$in", "$notIn"):
            if not isinstance(operand, list):
                raise fail(f"{at}: expected a list")
            cond = Q(pk__in=[])
            for i, item in enumerate(operand):
                cond |= Q(value=_json(item, f"{at}[{i}]"))
            q &= cond if op == "$in" else ~cond
        elif op == "$like":
            if not isinstance(operand, str):
                raise fail(f"{at}: expected a string pattern")
            q &= Q(value_text__regex=like_regex(operand))
        else:
            raise fail(f"{where}: operator '{op}' is not allowed; allowed: $eq, $neq, $in, $notIn, $like, $exists")
    return q


def variables_q(filters: Any, where: str, outer: dict[str, str]) -> Q:
    """Rows having every listed variable; `outer` maps Variable columns to the outer row's columns."""
    if not isinstance(filters, list):
        raise fail(f"{where}: expected a list of {{name, value}}")
    q = Q()
    for i, item in enumerate(filters):
        at = f"{where}[{i}]"
        if not isinstance(item, dict) or set(item) - {"name", "value"} or not isinstance(item.get("name"), str):
            raise fail(f'{at}: expected {{"name": ..., "value": ...}}')
        inner = Variable.objects.filter(name=item["name"], **{k: OuterRef(v) for k, v in outer.items()})
        value = item.get("value")
        if isinstance(value, dict) and "$exists" in value:
            if set(value) != {"$exists"} or not isinstance(value["$exists"], bool):
                raise fail(f"{at}.value: $exists takes true or false and no other operator")
            q &= Q(Exists(inner)) if value["$exists"] else ~Q(Exists(inner))
            continue
        if value is not None:
            inner = inner.annotate(value_text=Cast("value", TextField())).filter(value_q(value, f"{at}.value"))
        q &= Q(Exists(inner))
    return q
