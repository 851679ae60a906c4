"""Camunda 8 variable rules: input/output mappings and where results go.

- Input mappings are evaluated when an element activates and create local variables
  on its element instance (later mappings see the earlier ones).
- Output mappings are evaluated when it completes, in its own scope, and each result
  goes to the nearest enclosing scope that has the variable, else to the process instance.
- Results (job or user task completion variables, script results, child variables) go
  straight up the same way when the element has no output mappings; with output
  mappings they stay local to the element, and only the mappings' targets go up.
"""

from __future__ import annotations

import copy
from typing import Any

from engine.graph import Element
from engine.models import ElementInstance
from engine.runtime.expr import evaluate
from engine.runtime.state import InstanceRun

IO_MAPPING_ERROR = "IO_MAPPING_ERROR"


def _with_path(current: Any, path: list[str], value: Any) -> Any:
    """`current` (a context or nothing) with value set at the nested path; the input is not modified."""
    if not path:
        return value
    base = copy.deepcopy(current) if isinstance(current, dict) else {}
    base[path[0]] = _with_path(base.get(path[0]), path[1:], value)
    return base


def _target(run: InstanceRun, scope_key: int, target: str, value: Any) -> tuple[str, Any]:
    """Name and value to set for a mapping target, which may be a path like `order.status`."""
    name, *path = target.strip().split(".")
    if not path:
        return name, value
    return name, _with_path(run.visible_variables(scope_key).get(name), path, value)


def _source(run: InstanceRun, scope_key: int, mapping: dict[str, Any]) -> Any:
    """A mapping's value: a JSON constant (`value`, written by JSON flows) or its source evaluated."""
    if "value" in mapping:
        return copy.deepcopy(mapping["value"])
    return evaluate(run, scope_key, mapping["source"], IO_MAPPING_ERROR)


def apply_inputs(run: InstanceRun, ei: ElementInstance, element: Element) -> None:
    for mapping in element.props.get("inputs", ()):
        value = _source(run, ei.key, mapping)
        name, value = _target(run, ei.key, mapping["target"], value)
        run.set_local_variable(ei.key, name, value)


def apply_outputs(run: InstanceRun, ei: ElementInstance, element: Element) -> None:
    outputs = element.props.get("outputs")
    if not outputs or ei.flow_scope_key is None:
        return
    # Evaluate every mapping before writing any, so each sees the element's own state.
    values = [(m["target"], _source(run, ei.key, m)) for m in outputs]
    for target, value in values:
        name, value = _target(run, ei.flow_scope_key, target, value)
        run.propagate_variables(ei.flow_scope_key, {name: value})


def set_result(run: InstanceRun, ei: ElementInstance, element: Element, values: dict[str, Any]) -> None:
    """Variables an element produced (job/user task completion, script result, child instance)."""
    if not values:
        return
    if element.props.get("outputs"):
        for name, value in values.items():
            run.set_local_variable(ei.key, name, value)
    else:
        run.propagate_variables(ei.key, values)
