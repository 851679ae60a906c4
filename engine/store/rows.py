"""Cheap model instances for the engine's hot path.

Django's Model.__init__ walks every field with its descriptors (~20 µs a row); the
engine builds and loads tens of thousands of rows per second and only needs plain
attribute access plus `pk`, so it fills the instance __dict__ directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.db import models
from django.db.models.base import ModelState

M = TypeVar("M", bound=models.Model)

_attnames: dict[type, list[str]] = {}


def attnames(model: type[models.Model]) -> list[str]:
    names = _attnames.get(model)
    if names is None:
        names = _attnames[model] = [f.attname for f in model._meta.concrete_fields]
    return names


_defaults: dict[type, list[tuple[str, Any, Callable[[], Any] | None]]] = {}


def _defaults_of(model: type[models.Model]) -> list[tuple[str, Any, Callable[[], Any] | None]]:
    """(attname, constant default, or the function that makes a fresh one) per concrete field, decided once
    per model: `Field.get_default()` per field of every row was ~4% of the engine's CPU at large batches."""
    out = _defaults.get(model)
    if out is None:
        out = []
        for field in model._meta.concrete_fields:
            if callable(field.default) or (not field.has_default() and field.db_default is not models.NOT_PROVIDED):
                out.append((field.attname, None, field.get_default))  # a fresh value per row (dict, list)
            else:
                out.append((field.attname, field.get_default(), None))  # the same value get_default returns
        _defaults[model] = out
    return out


def new_row(model: type[M], **values: Any) -> M:
    """An unsaved instance with every concrete field set (missing ones get their defaults)."""
    obj = model.__new__(model)
    state = ModelState()
    state.adding = True
    data = obj.__dict__
    data["_state"] = state
    for name, constant, make in _defaults_of(model):
        if name in values:
            data[name] = values[name]
        elif make is None:
            data[name] = constant
        else:
            data[name] = make()
    return obj


def load_rows(queryset: models.QuerySet[M]) -> list[M]:
    """Fetch rows as instances without Model.__init__ (same attribute values as the ORM's)."""
    names = attnames(queryset.model)
    return loaded(queryset.model, names, queryset.values_list(*names))


def loaded(model: type[M], names: list[str], rows: Iterable[Iterable[Any]]) -> list[M]:
    """Instances of rows read from the database: `names` are the attnames of each row's values."""
    out = []
    for values in rows:
        obj = model.__new__(model)
        state = ModelState()
        state.adding = False
        state.db = "default"
        data = obj.__dict__
        data["_state"] = state
        data.update(zip(names, values, strict=True))
        out.append(obj)
    return out


class AnyOf(models.Lookup):
    """`field__any=[...]`: `field = ANY(%s)` with one array parameter on PostgreSQL.

    `__in` with thousands of keys sends thousands of parameters, each quoted in Python;
    the engine filters by a batch's keys on every query. Other databases get IN.
    """

    lookup_name = "any"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):  # type: ignore[no-untyped-def]
        return ("%s", [list(value)])

    def as_sql(self, compiler, connection):  # type: ignore[no-untyped-def]
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        if not values:
            return "1 = 0", []
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]


models.BigIntegerField.register_lookup(AnyOf)
models.ForeignKey.register_lookup(AnyOf)
