"""Fixtures for the form engine tests: the sample forms and a small HTML reader.

The form engine needs no database and no configured Django project, so nothing here
touches settings; the tests run the same with or without pytest-django.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parent / "data"
VOID = {"input", "br", "hr", "img", "meta", "link"}


@pytest.fixture
def formjs_doc() -> dict[str, Any]:
    """A form as Camunda Modeler writes it (ids, layout rows, exporter, a submit button)."""
    return json.loads((DATA / "invoice-approval.form").read_text())


@pytest.fixture
def schema_doc() -> dict[str, Any]:
    """The same form written as a FlowSync JSON Schema form."""
    return json.loads((DATA / "invoice-approval.schema.json").read_text())


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """All text below this node (entities decoded), whitespace collapsed."""
        parts = list(self.text_parts)
        for child in self.children:
            parts.append(child.text)
        return " ".join(" ".join(parts).split())

    def iter(self) -> Iterator[Node]:
        for child in self.children:
            yield child
            yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag)
            and all(n.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def find(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag}> with {attrs}"
        return found[0]

    def by_id(self, element_id: str) -> Node:
        return self.find(None, id=element_id)

    def ancestors(self) -> Iterator[Node]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def has_class(self, name: str) -> bool:
        return name in (self.attrs.get("class") or "").split()


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), parent=self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None, f"stray </{tag}>"
        self.current = node.parent or self.root

    def handle_data(self, data: str) -> None:
        self.current.text_parts.append(data)


@pytest.fixture
def parse_html() -> Callable[[str], Node]:
    def parse(html: str) -> Node:
        builder = _TreeBuilder()
        builder.feed(str(html))
        builder.close()
        assert builder.current is builder.root, f"unclosed <{builder.current.tag}>"
        return builder.root

    return parse
