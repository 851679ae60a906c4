"""Which variables an element sees: the one rule, used by the engine, job activation and the Tasklist.

An element sees the variables of its own scope and of every enclosing flow scope up to the
process instance; a variable of an inner scope shadows one of the same name further out.
Callers differ only in where the rows come from (the engine's in-memory run, one pipelined
read for a batch of jobs, one recursive query for a user task), so they pass lookups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any


def scope_chain(start: int | None, parent_of: Callable[[int], int | None]) -> list[int]:
    """Scope keys from `start` outwards to the process instance, innermost first."""
    chain: list[int] = []
    key = start
    while key is not None:
        chain.append(key)
        key = parent_of(key)
    return chain


def visible_variables(chain: list[int], variables_of: Callable[[int], Mapping[str, Any]]) -> dict[str, Any]:
    """Name → value as seen from the innermost scope of `chain` (inner scopes shadow outer ones)."""
    merged: dict[str, Any] = {}
    for key in reversed(chain):
        merged.update(variables_of(key))
    return merged


def visible_from_rows(chain: list[int], rows: Iterable[tuple[int, str, Any]]) -> dict[str, Any]:
    """The same rule over (scope key, name, value) rows of the scopes in `chain`."""
    by_scope: dict[int, dict[str, Any]] = {}
    for scope_key, name, value in rows:
        by_scope.setdefault(scope_key, {})[name] = value
    return visible_variables(chain, lambda key: by_scope.get(key, {}))
