"""The shape of the code holds: dependencies point one way and the runtime is a DAG.

flowsync (tenancy, auth) ← engine (store ← runtime; actions write commands; queries read)
← surfaces (tasklist, inspector, engine.api). Read from the source with `ast`, so a
forbidden import fails here before anyone has to find it in review. docs/architecture.md
draws the same picture.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("flowsync", "engine", "tasklist", "inspector")
SURFACES = ("tasklist", "inspector", "engine.api", "engine.ops")


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    in_function: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The first-party module an imported name belongs to (a name imported from a module → that module)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports() -> list[Import]:
    found = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        nested = {id(n) for f in functions for n in ast.walk(f) if n is not f}
        # Imports for type annotations only (`if TYPE_CHECKING:`) are not dependencies at run time.
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
                       for n in ast.walk(block)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # `from pkg import sub` imports the submodule; `from mod import name` the module.
                names = [f"{prefix}.{a.name}" for a in node.names]
            else:
                continue
            if id(node) in typing_only:
                continue
            for name in names:
                target = _resolve(name)
                if target and target != module:
                    found.append(Import(module, target, node.lineno, id(node) in nested))
    return found


IMPORTS = _imports()


def _in(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _violations(source: tuple[str, ...], forbidden: tuple[str, ...], allowed_sources: tuple[str, ...] = ()) -> list:
    return [
        f"{i.source}:{i.line} imports {i.target}"
        for i in IMPORTS
        if _in(i.source, *source) and not _in(i.source, *allowed_sources) and _in(i.target, *forbidden)
    ]


RULES = {
    # flowsync.urls/wsgi/asgi are the project's composition root: they mount every surface.
    "flowsync is the bottom layer": (
        ("flowsync",), ("engine", "tasklist", "inspector"), ("flowsync.urls", "flowsync.wsgi", "flowsync.asgi"),
    ),
    "the engine imports no surface": (
        ("engine",), ("tasklist", "inspector", "engine.api", "engine.ops"), ("engine.api", "engine.ops"),
    ),
    "the Tasklist imports no other surface": (("tasklist",), ("inspector", "engine.api", "engine.ops"), ()),
    "the Inspector imports no other surface": (("inspector",), ("tasklist", "engine.api", "engine.ops"), ()),
    "the API imports no other surface": (("engine.api",), ("tasklist", "inspector", "engine.ops"), ()),
    "the ops endpoints import no other surface": (("engine.ops",), ("tasklist", "inspector", "engine.api"), ()),
    "the store sits below runtime and actions": (
        ("engine.store",),
        ("engine.runtime", "engine.actions", "engine.queries", "engine.connectors", "engine.definitions"),
        (),
    ),
    "the runtime applies commands, it does not call actions or queries": (
        ("engine.runtime",), ("engine.actions", "engine.queries"), ("engine.runtime.worker",),
    ),
    "queries read, they write nothing": (("engine.queries",), ("engine.actions", "engine.runtime"), ()),
}


@pytest.mark.parametrize("rule", list(RULES))
def test_dependencies_point_one_way(rule: str) -> None:
    source, forbidden, allowed = RULES[rule]
    assert _violations(source, forbidden, allowed) == []


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in IMPORTS:
        # A package's __init__ re-exporting its own submodules is not a dependency on itself.
        if not imp.target.startswith(imp.source + "."):
            graph[imp.source].add(imp.target)
    cycles = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert cycles == []


def test_no_imports_inside_functions_except_app_wiring() -> None:
    """An import inside a function is how a cycle hides; only AppConfig.ready wires layers together."""
    inside = [f"{i.source}:{i.line} imports {i.target}" for i in IMPORTS
              if i.in_function and not i.source.endswith(".apps")]
    assert inside == []


def test_the_checks_see_the_code() -> None:
    """Guards the guard: the walk finds the modules and their imports (an empty walk passes everything)."""
    assert {"engine.runtime.steps", "engine.store.sql", "tasklist.views", "inspector.views"} <= MODULES.keys()
    assert any(i.source == "engine.runtime.steps" and i.target == "engine.runtime.tokens" for i in IMPORTS)
