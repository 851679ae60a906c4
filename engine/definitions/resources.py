"""A file submitted for deployment (BPMN, form), as received."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    name: str
    content: bytes
