"""A flow resource as deployed: JSON text → validated document and its compiled graph."""

from __future__ import annotations

import json
from typing import Any

from engine.flows.compile import compile_flow
from engine.flows.errors import FlowError, FlowProblem
from engine.flows.validate import validate
from engine.graph import Graph

SUFFIX = ".flow.json"


def is_flow_resource(name: str) -> bool:
    return name.lower().endswith(SUFFIX)


def parse(resource_name: str, content: bytes | str) -> dict[str, Any]:
    """The document, validated; FlowError lists every problem with its JSON Pointer."""
    try:
        doc = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FlowError(resource_name, [FlowProblem("", f"not JSON: {exc}")]) from None
    problems = validate(doc)
    if problems:
        raise FlowError(resource_name, problems)
    return doc


def load(resource_name: str, content: bytes | str) -> tuple[dict[str, Any], Graph]:
    doc = parse(resource_name, content)
    return doc, compile_flow(doc)
