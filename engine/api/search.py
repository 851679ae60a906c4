"""Camunda search requests → tenant-scoped ORM querysets, with sort and keyset pagination.

A search body is `{"filter": {...}, "sort": [{"field", "order"}], "page": {...}}`, every part
optional. Filter values are a bare value (equality) or an operator object:

- strings   `$eq $neq $exists $in $notIn $like` (`*` any run, `?` one character, `\\` escapes)
- keys      `$eq $neq $exists $in $notIn` (strings of digits; integers are accepted too)
- integers and dates `$eq $neq $exists $gt $gte $lt $lte $in`
- enums     `$eq $neq $exists $in $notIn $like`
- booleans  a bare `true`/`false`

`$or` (where a resource allows it) is a list of filter groups, ANDed with the other fields.
Unknown filter, sort or page fields are refused with 400: a misspelled filter silently
ignored would return the wrong data.

Pages: `{from, limit}` (offset), `{after, limit}` / `{before, limit}` (cursors from a previous
page's `endCursor`/`startCursor`), `{limit}`; the 8.6-era `searchAfter`/`searchBefore` arrays of
sort values are accepted too. The default limit is 100, the maximum 10,000. A cursor is the
standard-base64 JSON list of the row's sort values, ending with its key, so paging is stable
(keyset: `WHERE (sort values) > (cursor)`), whatever the sort. NULLs sort last ascending.
`totalItems` is exact up to 10,000; beyond, it is 10,000 and `hasMoreTotalItems` is true.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils.dateparse import parse_datetime

from engine.errors import InvalidInput

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
COUNT_CAP = 10_000
KEY_RE = re.compile(r"^-?[0-9]{1,25}$")

OPS: dict[str, frozenset[str]] = {
    "string": frozenset({"$eq", "$neq", "$exists", "$in", "$notIn", "$like"}),
    "key": frozenset({"$eq", "$neq", "$exists", "$in", "$notIn"}),
    "int": frozenset({"$eq", "$neq", "$exists", "$gt", "$gte", "$lt", "$lte", "$in"}),
    "date": frozenset({"$eq", "$neq", "$exists", "$gt", "$gte", "$lt", "$lte", "$in"}),
    "enum": frozenset({"$eq", "$neq", "$exists", "$in", "$notIn", "$like"}),
    "bool": frozenset(),
}
_COMPARE = {"$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}


@dataclass(frozen=True)
class Field:
    """One filterable field: its ORM path and kind.

    `enum` maps each API value to the stored values it stands for (identity when None);
    `blank_null` marks text columns that store "" for "no value".
    """

    column: str
    kind: str = "string"
    enum: dict[str, tuple[str, ...]] | None = None
    blank_null: bool = False


Custom = Callable[[Any, str], Q]


@dataclass(frozen=True)
class Spec:
    """What a resource's search accepts: filter fields, custom filters, sort fields, `$or`."""

    fields: dict[str, Field]
    sort: dict[str, Field]
    custom: dict[str, Custom] = field(default_factory=dict)
    allow_or: bool = False
    # Filter fields Camunda defines that this server accepts but cannot evaluate yet: refused with a clear 400.
    unsupported: frozenset[str] = frozenset()
    key_column: str = "key"


def fail(message: str) -> InvalidInput:
    return InvalidInput(message)


# -- values ---------------------------------------------------------------------------------------
def parse_key(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not KEY_RE.match(str(value)):
        raise fail(f"{where}: '{value}' is not a key (a string of digits)")
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise fail(f"{where}: key {value} is out of range")
    return number


def parse_date(value: Any, where: str) -> datetime:
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise fail(f"{where}: '{value}' is not an RFC 3339 date-time")
    return parsed


def _scalar(f: Field, value: Any, where: str) -> Any:
    kind = f.kind
    if kind == "string":
        if not isinstance(value, str):
            raise fail(f"{where}: expected a string")
        return value
    if kind == "key":
        return parse_key(value, where)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(f"{where}: expected an integer")
        if not -(2**63) <= value < 2**63:
            raise fail(f"{where}: integer out of range")
        return value
    if kind == "date":
        return parse_date(value, where)
    if kind == "enum":
        if not isinstance(value, str) or (f.enum is not None and value not in f.enum):
            allowed = ", ".join(sorted(f.enum or ()))
            raise fail(f"{where}: '{value}' is not one of {allowed}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise fail(f"{where}: expected true or false")
        return value
    raise AssertionError(kind)  # pragma: no cover


def like_regex(pattern: str) -> str:
    """Camunda `$like` (`*`, `?`, `\\` escapes) as an anchored regular expression."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return "^" + "".join(out) + "$"


def _stored(f: Field, values: Iterable[Any]) -> list[Any]:
    if f.kind != "enum" or f.enum is None:
        return list(values)
    return [s for v in values for s in f.enum[v]]


def _exists(f: Field, present: bool) -> Q:
    q = Q(**{f"{f.column}__isnull": False})
    if f.blank_null:
        q &= ~Q(**{f.column: ""})
    return q if present else ~q


def field_q(f: Field, value: Any, where: str) -> Q:
    """One filter field's condition."""
    if not isinstance(value, dict):
        if isinstance(value, list):
            raise fail(f"{where}: use {{\"$in\": [...]}} to match several values")
        return Q(**{f"{f.column}__in": _stored(f, [_scalar(f, value, where)])})
    if not value:
        raise fail(f"{where}: an operator object needs at least one operator")
    allowed = OPS[f.kind]
    q = Q()
    for op, operand in value.items():
        at = f"{where}.{op}"
        if op not in allowed:
            ops = ", ".join(sorted(allowed)) or "none (give the value itself)"
            raise fail(f"{where}: operator '{op}' is not allowed here; allowed: {ops}")
        if op == "$exists":
            if not isinstance(operand, bool):
                raise fail(f"{at}: expected true or false")
            q &= _exists(f, operand)
        elif op in ("$in", "$notIn"):
            if not isinstance(operand, list):
                raise fail(f"{at}: expected a list")
            if len(operand) > 1000:
                raise fail(f"{at}: at most 1000 values")
            cond = Q(**{f"{f.column}__in": _stored(f, [_scalar(f, v, at) for v in operand])})
            q &= cond if op == "$in" else ~cond
        elif op == "$like":
            if not isinstance(operand, str):
                raise fail(f"{at}: expected a string pattern")
            if f.kind == "enum" and f.enum is not None:
                regex = re.compile(like_regex(operand))
                q &= Q(**{f"{f.column}__in": _stored(f, [v for v in f.enum if regex.match(v)])})
            else:
                q &= Q(**{f"{f.column}__regex": like_regex(operand)})
        elif op in _COMPARE:
            q &= Q(**{f"{f.column}__{_COMPARE[op]}": _scalar(f, operand, at)})
        else:
            cond = Q(**{f"{f.column}__in": _stored(f, [_scalar(f, operand, at)])})
            q &= cond if op == "$eq" else ~cond
    return q


def filter_q(spec: Spec, filt: Any, where: str = "filter", nested: bool = False) -> Q:
    if filt is None:
        return Q()
    if not isinstance(filt, dict):
        raise fail(f"{where}: expected an object")
    q = Q()
    for name, value in filt.items():
        at = f"{where}.{name}"
        if name == "$or" and spec.allow_or and not nested:
            if not isinstance(value, list) or not value:
                raise fail(f"{at}: expected a non-empty list of filter objects")
            ors = Q(pk__in=[])
            for i, group in enumerate(value):
                ors |= filter_q(spec, group, f"{at}[{i}]", nested=True)
            q &= ors
        elif name in spec.custom:
            q &= spec.custom[name](value, at)
        elif name in spec.fields:
            if value is None:
                continue
            q &= field_q(spec.fields[name], value, at)
        elif name in spec.unsupported:
            raise fail(f"{at}: filtering on '{name}' is not supported by this server")
        else:
            known = ", ".join(sorted([*spec.fields, *spec.custom, *(["$or"] if spec.allow_or else [])]))
            raise fail(f"{where}: unknown filter field '{name}'; known: {known}")
    return q


# -- sort and pages -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SortKey:
    column: str
    kind: str
    desc: bool


def sort_keys(spec: Spec, sort: Any) -> list[SortKey]:
    keys: list[SortKey] = []
    if sort is not None:
        if not isinstance(sort, list):
            raise fail("sort: expected a list of {field, order}")
        for i, item in enumerate(sort):
            at = f"sort[{i}]"
            if not isinstance(item, dict) or set(item) - {"field", "order"}:
                raise fail(f"{at}: expected {{\"field\": ..., \"order\": \"ASC\"|\"DESC\"}}")
            name, order = item.get("field"), item.get("order", "ASC")
            if name not in spec.sort:
                raise fail(f"{at}.field: '{name}' is not sortable; sortable: {', '.join(sorted(spec.sort))}")
            if not isinstance(order, str) or order.upper() not in ("ASC", "DESC"):
                raise fail(f"{at}.order: expected ASC or DESC")
            f = spec.sort[name]
            keys.append(SortKey(f.column, f.kind, order.upper() == "DESC"))
    keys.append(SortKey(spec.key_column, "key", False))
    return keys


def _order(keys: list[SortKey], reverse: bool) -> list[Any]:
    out = []
    for k in keys:
        desc = k.desc != reverse
        out.append(F(k.column).desc(nulls_first=True) if desc else F(k.column).asc(nulls_last=True))
    return out


def _beyond(k: SortKey, desc: bool, value: Any) -> Q:
    """Rows strictly after `value` in this column's order (NULL counts as the largest value)."""
    if not desc:
        if value is None:
            return Q(pk__in=[])
        return Q(**{f"{k.column}__gt": value}) | Q(**{f"{k.column}__isnull": True})
    if value is None:
        return Q(**{f"{k.column}__isnull": False})
    return Q(**{f"{k.column}__lt": value})


def _same(k: SortKey, value: Any) -> Q:
    return Q(**{f"{k.column}__isnull": True}) if value is None else Q(**{k.column: value})


def keyset_q(keys: list[SortKey], values: list[Any], reverse: bool) -> Q:
    q, prefix = Q(pk__in=[]), Q()
    for k, v in zip(keys, values, strict=True):
        q |= prefix & _beyond(k, k.desc != reverse, v)
        prefix &= _same(k, v)
    return q


def _to_json(k: SortKey, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if k.kind == "key":
        return str(value)
    return value


def _from_json(k: SortKey, value: Any, where: str) -> Any:
    if value is None:
        return None
    if k.kind == "key":
        return parse_key(value, where)
    if k.kind == "date":
        return parse_date(value, where)
    if k.kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise fail(f"{where}: expected an integer sort value")
    if k.kind == "bool" and not isinstance(value, bool):
        raise fail(f"{where}: expected a boolean sort value")
    if k.kind in ("string", "enum") and not isinstance(value, str):
        raise fail(f"{where}: expected a string sort value")
    return value


def encode_cursor(values: list[Any]) -> str:
    return base64.b64encode(json.dumps(values, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: Any, keys: list[SortKey], where: str) -> list[Any]:
    if not isinstance(cursor, str):
        raise fail(f"{where}: expected a cursor string")
    try:
        values = json.loads(base64.b64decode(cursor, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise fail(f"{where}: not a cursor of this server") from None
    return sort_values(values, keys, where)


def sort_values(values: Any, keys: list[SortKey], where: str) -> list[Any]:
    if not isinstance(values, list) or len(values) != len(keys):
        raise fail(f"{where}: does not match this search's sort (cursors only work with the same sort)")
    return [_from_json(k, v, f"{where}[{i}]") for i, (k, v) in enumerate(zip(keys, values, strict=True))]


PAGE_FIELDS = frozenset({"from", "limit", "after", "before", "searchAfter", "searchBefore"})


@dataclass
class Page:
    items: list[Any]
    total: int
    has_more_total: bool
    first_values: list[Any] | None
    last_values: list[Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "totalItems": self.total,
            "hasMoreTotalItems": self.has_more_total,
            "startCursor": encode_cursor(self.first_values) if self.first_values is not None else None,
            "endCursor": encode_cursor(self.last_values) if self.last_values is not None else None,
            "firstSortValues": self.first_values,
            "lastSortValues": self.last_values,
        }


def body_parts(body: Any) -> tuple[Any, Any, dict[str, Any]]:
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise fail("the search body must be a JSON object with filter, sort and page")
    unknown = set(body) - {"filter", "sort", "page"}
    if unknown:
        raise fail(f"unknown search field(s): {', '.join(sorted(unknown))}; expected filter, sort, page")
    page = body.get("page")
    if page is None:
        page = {}
    if not isinstance(page, dict):
        raise fail("page: expected an object")
    unknown = set(page) - PAGE_FIELDS
    if unknown:
        raise fail(f"page: unknown field(s) {', '.join(sorted(unknown))}")
    return body.get("filter"), body.get("sort"), page


def search(qs: QuerySet, spec: Spec, body: Any) -> Page:
    """Filter, sort and page `qs` (already scoped to the caller's tenants) as the body asks."""
    filt, sort, page = body_parts(body)
    qs = qs.filter(filter_q(spec, filt))
    keys = sort_keys(spec, sort)
    limit = page.get("limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
        raise fail(f"page.limit: expected an integer from 0 to {MAX_LIMIT}")
    modes = [m for m in ("from", "after", "before", "searchAfter", "searchBefore") if m in page]
    if len(modes) > 1:
        raise fail(f"page: give only one of {', '.join(modes)}")
    total = qs.order_by()[: COUNT_CAP + 1].count()

    reverse = False
    offset = 0
    if modes and page[modes[0]] is not None:
        mode, value = modes[0], page[modes[0]]
        if mode == "from":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise fail("page.from: expected a non-negative integer")
            offset = value
        else:
            reverse = mode in ("before", "searchBefore")
            values = (
                decode_cursor(value, keys, f"page.{mode}")
                if mode in ("after", "before")
                else sort_values(value, keys, f"page.{mode}")
            )
            qs = qs.filter(keyset_q(keys, values, reverse))
    names = [f"_sort{i}" for i in range(len(keys))]
    qs = qs.annotate(**{n: F(k.column) for n, k in zip(names, keys, strict=True)}).order_by(*_order(keys, reverse))
    items = list(qs[offset : offset + limit]) if limit else []
    if reverse:
        items.reverse()

    def values_of(item: Any) -> list[Any]:
        return [_to_json(k, getattr(item, n)) for k, n in zip(keys, names, strict=True)]

    return Page(
        items=items,
        total=min(total, COUNT_CAP),
        has_more_total=total > COUNT_CAP,
        first_values=values_of(items[0]) if items else None,
        last_values=values_of(items[-1]) if items else None,
    )
