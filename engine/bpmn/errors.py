from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition, located for the person who drew it."""

    message: str
    element_id: str | None = None
    element_kind: str | None = None
    line: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {"message": self.message, "elementId": self.element_id, "elementKind": self.element_kind,
                "line": self.line}

    def __str__(self) -> str:
        where = []
        if self.element_id:
            where.append(f"element '{self.element_id}'" + (f" ({self.element_kind})" if self.element_kind else ""))
        if self.line:
            where.append(f"line {self.line}")
        return f"{self.message}" + (f" [{', '.join(where)}]" if where else "")


class DefinitionError(ValueError):
    """The resource cannot be deployed; `problems` says every reason found."""

    def __init__(self, resource_name: str, problems: list[Problem]):
        self.resource_name = resource_name
        self.problems = problems
        super().__init__(f"{resource_name}: " + "; ".join(str(p) for p in problems))
