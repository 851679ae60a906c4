"""A flow document's problems, located by JSON Pointer (RFC 6901) into the submitted document."""

from __future__ import annotations

from dataclasses import dataclass

from engine.bpmn.errors import DefinitionError


def pointer(*parts: str | int) -> str:
    """A JSON Pointer from path parts (`~` and `/` escaped as RFC 6901 says)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass(frozen=True)
class FlowProblem:
    pointer: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"pointer": self.pointer, "message": self.message}

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class FlowError(DefinitionError):
    """The flow document cannot be deployed; `problems` are FlowProblems (pointer, message)."""

    def __init__(self, resource_name: str, problems: list[FlowProblem]):
        super().__init__(resource_name, problems)  # type: ignore[arg-type]
