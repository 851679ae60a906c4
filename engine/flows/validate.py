"""Every reason a flow document cannot run, each located by a JSON Pointer; nothing is stored before.

First the published schema (shapes, types, unknown options); then what a schema cannot say:
duplicate ids, unknown node references, cycles (with the cycle's node path), unreachable nodes,
branches of condition and switch nodes, expressions that do not compile (with the column), and
all_success joins that can never run because their upstream nodes sit on exclusive branches.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from engine import expressions
from engine.flows.errors import FlowProblem, pointer
from engine.flows.schema import SCHEMA
from engine.timers import schedule

_VALIDATOR = Draft202012Validator(SCHEMA)
BRANCHING = ("condition", "switch")
FAILING = ("http", "job", "email", "subflow")  # kinds whose work can fail (retries run out, errors)


def is_value_expression(text: Any) -> bool:
    return isinstance(text, str) and text.lstrip().startswith(("=", "cel:"))


def expression_text(text: str) -> str:
    """An always-evaluated expression as the engine stores it: `=` FEEL stays, anything else is CEL."""
    stripped = text.strip()
    return stripped if stripped.startswith(("=", "cel:")) else "cel:" + stripped


def _schema_problems(doc: Any) -> list[FlowProblem]:
    found: list[FlowProblem] = []
    for error in sorted(_VALIDATOR.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        where = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = set(error.schema.get("properties", {}))
            what = _what(doc, where)
            for key in sorted(k for k in error.instance if k not in allowed):
                found.append(FlowProblem(pointer(*where, key), f"unknown option '{key}' for {what}"))
            continue
        if error.validator in ("if", "allOf"):
            continue  # the failing branch reports its own, precise errors
        found.append(FlowProblem(pointer(*where), error.message))
    # One error per pointer and message (allOf branches can repeat themselves).
    unique = {(p.pointer, p.message): p for p in found}
    return list(unique.values())


def _what(doc: Any, where: list[Any]) -> str:
    if len(where) == 2 and where[0] == "nodes" and isinstance(doc, dict):
        node = doc["nodes"][where[1]]
        return f"a {node.get('kind')} node"
    if len(where) == 2 and where[0] == "edges":
        return "an edge"
    if len(where) == 2 and where[0] == "triggers":
        return "a trigger"
    return "this object" if where else "a flow"


def validate(doc: Any) -> list[FlowProblem]:
    """All problems of the document; an empty list means it compiles."""
    problems = _schema_problems(doc)
    if problems or not isinstance(doc, dict):
        return problems
    if "inputs" in doc:
        try:
            Draft202012Validator.check_schema(doc["inputs"])
        except SchemaError as exc:
            where = pointer("inputs", *exc.absolute_path)
            return [FlowProblem(where, f"not a valid JSON Schema: {exc.message}")]
    nodes: list[dict[str, Any]] = doc["nodes"]
    edges: list[dict[str, Any]] = doc.get("edges", [])
    by_id: dict[str, int] = {}
    for i, node in enumerate(nodes):
        if node["id"] in by_id:
            problems.append(FlowProblem(pointer("nodes", i, "id"), f"duplicate node id '{node['id']}' "
                                        f"(first at {pointer('nodes', by_id[node['id']])})"))
        else:
            by_id[node["id"]] = i
    seen_edges: set[tuple[str, str]] = set()
    good_edges: list[tuple[int, dict[str, Any]]] = []
    for i, edge in enumerate(edges):
        bad = False
        for end in ("from", "to"):
            if edge[end] not in by_id:
                problems.append(FlowProblem(pointer("edges", i, end), f"unknown node '{edge[end]}'"))
                bad = True
        if bad:
            continue
        if (edge["from"], edge["to"]) in seen_edges:
            problems.append(FlowProblem(pointer("edges", i), f"duplicate edge {edge['from']} → {edge['to']}"))
            continue
        if edge["from"] == edge["to"]:
            problems.append(FlowProblem(pointer("edges", i), f"cycle: {edge['from']} → {edge['to']}"))
            continue
        seen_edges.add((edge["from"], edge["to"]))
        good_edges.append((i, edge))
    starts = doc.get("start")
    start_ids = [starts] if isinstance(starts, str) else list(starts or [])
    for j, sid in enumerate(start_ids):
        if sid not in by_id:
            where = pointer("start") if isinstance(starts, str) else pointer("start", j)
            problems.append(FlowProblem(where, f"unknown node '{sid}'"))
    problems += _edge_rules(nodes, by_id, good_edges)
    problems += _expressions(doc)
    if problems:
        return problems
    problems += _cycles(nodes, good_edges)
    if problems:
        return problems
    entries = start_ids or [n["id"] for n in nodes if not any(e["to"] == n["id"] for _, e in good_edges)]
    reached = _reach(entries, good_edges)
    for i, node in enumerate(nodes):
        if node["id"] not in reached:
            problems.append(FlowProblem(pointer("nodes", i), f"node '{node['id']}' is unreachable from the start "
                                        f"({', '.join(entries)})"))
    if not problems:
        problems += _never_runs(nodes, by_id, good_edges, entries)
    return problems


def _edge_rules(nodes: list[dict[str, Any]], by_id: dict[str, int],
                edges: list[tuple[int, dict[str, Any]]]) -> list[FlowProblem]:
    problems: list[FlowProblem] = []
    for i, edge in edges:
        kind = nodes[by_id[edge["from"]]]["kind"]
        if kind == "fail":
            problems.append(FlowProblem(pointer("edges", i, "from"), "a fail node ends the run: it has no out-edges"))
        if "branch" in edge and kind != "condition":
            problems.append(FlowProblem(pointer("edges", i, "branch"), "only edges out of a condition node have "
                                        "a branch"))
        if edge.get("default") and kind != "switch":
            problems.append(FlowProblem(pointer("edges", i, "default"), "only an edge out of a switch node can "
                                        "be the default"))
        if edge.get("on") == "failure":
            source = nodes[by_id[edge["from"]]]
            if kind not in FAILING and "timeout" not in source:
                problems.append(FlowProblem(pointer("edges", i, "on"), f"a {kind} node without a timeout cannot "
                                            "fail: it has no failure edges"))
            if source.get("on_failure") == "continue":
                problems.append(FlowProblem(pointer("edges", i, "on"), "a node that continues on failure has no "
                                            "failure edges: choose one"))
            if "when" in edge or "branch" in edge or edge.get("default"):
                problems.append(FlowProblem(pointer("edges", i), "a failure edge has no guard or branch"))
            continue
        if kind == "condition" and "branch" not in edge:
            problems.append(FlowProblem(pointer("edges", i), "an edge out of a condition node needs "
                                        "\"branch\": \"true\" or \"false\""))
        if kind == "condition" and "when" in edge:
            problems.append(FlowProblem(pointer("edges", i, "when"), "an edge out of a condition node takes its "
                                        "branch, not a guard"))
        if kind == "switch" and "when" not in edge and not edge.get("default"):
            problems.append(FlowProblem(pointer("edges", i), "an edge out of a switch node needs a \"when\" "
                                        "guard or \"default\": true"))
        if kind == "switch" and "when" in edge and edge.get("default"):
            problems.append(FlowProblem(pointer("edges", i), "the default edge of a switch has no guard"))
    for n, node in enumerate(nodes):
        out = [e for _, e in edges if e["from"] == node["id"]]
        if node["kind"] == "condition":
            branches = {e.get("branch") for e in out}
            missing = [b for b in ("true", "false") if b not in branches]
            if missing:
                problems.append(FlowProblem(pointer("nodes", n), f"condition '{node['id']}' needs both branches; "
                                            f"no edge for {' and '.join(missing)}"))
        if node["kind"] == "switch":
            if not any("when" in e for e in out):
                problems.append(FlowProblem(pointer("nodes", n), f"switch '{node['id']}' needs at least one "
                                            "guarded edge"))
            if sum(1 for e in out if e.get("default")) > 1:
                problems.append(FlowProblem(pointer("nodes", n), f"switch '{node['id']}' has several default "
                                            "edges"))
        if node["kind"] == "delay" and ("duration" in node) == ("until" in node):
            problems.append(FlowProblem(pointer("nodes", n), "a delay needs exactly one of duration and until"))
    return problems


def _check(problems: list[FlowProblem], where: str, text: str, kind: str) -> None:
    try:
        if kind == "expression":
            text = expression_text(text)
            if text.startswith("="):
                expressions.compile_feel(text)
            else:
                expressions.compile_cel(text)
        elif kind == "value" and is_value_expression(text):
            if text.lstrip().startswith("cel:"):
                expressions.compile_cel(text.lstrip())
            else:
                expressions.compile_value(text.strip())
        elif kind == "duration" and not is_value_expression(text):
            schedule.validate("duration", text)
    except expressions.ExpressionError as exc:
        column = f" at column {exc.column}" if exc.column else ""
        problems.append(FlowProblem(where, f"{exc.message}{column} in expression '{exc.text}'"))
    except schedule.TimerSpecError as exc:
        problems.append(FlowProblem(where, str(exc)))


def _expressions(doc: dict[str, Any]) -> list[FlowProblem]:
    problems: list[FlowProblem] = []
    for i, node in enumerate(doc["nodes"]):
        at = ("nodes", i)
        for key in ("url", "body", "until", "correlation", "assignee", "due_date", "to", "subject", "from"):
            if isinstance(node.get(key), str):
                _check(problems, pointer(*at, key), node[key], "value")
        for group in ("headers", "query", "inputs"):
            for name, value in (node.get(group) or {}).items():
                if isinstance(value, str):
                    _check(problems, pointer(*at, group, name), value, "value")
        for group in ("set", "output"):
            for name, value in (node.get(group) or {}).items():
                _check(problems, pointer(*at, group, name), value, "expression")
        if "expression" in node:
            _check(problems, pointer(*at, "expression"), node["expression"], "expression")
        for key in ("duration", "timeout"):
            if key in node:
                _check(problems, pointer(*at, key), node[key], "duration")
        backoff = (node.get("retry") or {}).get("backoff") or {}
        for key in ("initial", "max"):
            if key in backoff:
                if is_value_expression(backoff[key]):
                    problems.append(FlowProblem(pointer(*at, "retry", "backoff", key), "a static ISO 8601 "
                                                "duration, not an expression"))
                else:
                    _check(problems, pointer(*at, "retry", "backoff", key), backoff[key], "duration")
        if "timeout" in node and is_value_expression(node["timeout"]):
            problems.append(FlowProblem(pointer(*at, "timeout"), "a static ISO 8601 duration, not an expression"))
    for i, edge in enumerate(doc.get("edges", [])):
        if "when" in edge:
            _check(problems, pointer("edges", i, "when"), edge["when"], "expression")
    for name, value in (doc.get("output") or {}).items():
        _check(problems, pointer("output", name), value, "expression")
    for i, trigger in enumerate(doc.get("triggers", [])):
        if trigger.get("kind") == "schedule" and "every" in trigger:
            _check(problems, pointer("triggers", i, "every"), trigger["every"], "duration")
            if is_value_expression(trigger["every"]):
                problems.append(FlowProblem(pointer("triggers", i, "every"), "a static ISO 8601 duration"))
        elif trigger.get("kind") == "schedule":
            try:
                if trigger["cron"].strip().upper().startswith("R") or len(trigger["cron"].split()) != 5:
                    raise schedule.TimerSpecError(f"'{trigger['cron']}' is not five cron fields")
                schedule.validate("cycle", trigger["cron"])
            except schedule.TimerSpecError as exc:
                problems.append(FlowProblem(pointer("triggers", i, "cron"), str(exc)))
            if "timezone" in trigger:
                try:
                    schedule.validate("cycle", f"TZ={trigger['timezone']} * * * * *")
                except schedule.TimerSpecError as exc:
                    problems.append(FlowProblem(pointer("triggers", i, "timezone"), str(exc)))
        for key in ("filter",):
            if key in trigger:
                _check(problems, pointer("triggers", i, key), trigger[key], "expression")
        if trigger.get("kind") != "schedule":  # a schedule's input is constants
            for name, value in (trigger.get("input") or {}).items():
                _check(problems, pointer("triggers", i, "input", name), value, "expression")
    ids = [t["id"] for t in doc.get("triggers", [])]
    for i, tid in enumerate(ids):
        if tid in ids[:i]:
            problems.append(FlowProblem(pointer("triggers", i, "id"), f"duplicate trigger id '{tid}'"))
    return problems


def _cycles(nodes: list[dict[str, Any]], edges: list[tuple[int, dict[str, Any]]]) -> list[FlowProblem]:
    """Each cycle once, pointing at the edge that closes it, with the node path."""
    out: dict[str, list[tuple[int, str]]] = {}
    for i, e in edges:
        out.setdefault(e["from"], []).append((i, e["to"]))
    color: dict[str, int] = {}  # 1 = on the path, 2 = done
    path: list[str] = []
    problems: list[FlowProblem] = []

    def visit(start: str) -> None:
        # Iterative DFS: a long chain must not hit Python's recursion limit.
        stack: list[tuple[str, int]] = [(start, 0)]
        color[start] = 1
        path.append(start)
        while stack:
            node, k = stack[-1]
            nexts = out.get(node, [])
            if k == len(nexts):
                stack.pop()
                path.pop()
                color[node] = 2
                continue
            stack[-1] = (node, k + 1)
            edge_index, target = nexts[k]
            if color.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                problems.append(FlowProblem(pointer("edges", edge_index), "cycle: " + " → ".join(cycle)))
            elif target not in color:
                color[target] = 1
                path.append(target)
                stack.append((target, 0))

    for node in nodes:
        if node["id"] not in color:
            visit(node["id"])
    return problems


def _reach(entries: list[str], edges: list[tuple[int, dict[str, Any]]], cut: set[int] | None = None) -> set[str]:
    out: dict[str, list[str]] = {}
    for i, e in edges:
        if not cut or i not in cut:
            out.setdefault(e["from"], []).append(e["to"])
    seen = set(entries)
    todo = list(entries)
    while todo:
        for target in out.get(todo.pop(), []):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _never_runs(nodes: list[dict[str, Any]], by_id: dict[str, int], edges: list[tuple[int, dict[str, Any]]],
                entries: list[str]) -> list[FlowProblem]:
    """all_success joins whose upstream nodes lie on different branches of one condition or switch."""
    problems: list[FlowProblem] = []
    # (branching node, branch) → the nodes that only that branch reaches.
    only: dict[tuple[str, str], set[str]] = {}
    for node in nodes:
        if node["kind"] not in BRANCHING:
            continue
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for i, e in edges:
            if e["from"] == node["id"]:
                # A condition takes all edges of one branch; a switch exactly one edge.
                groups.setdefault(e["branch"] if node["kind"] == "condition" else f"#{i}", []).append((i, e))
        for label, group in groups.items():
            without = _reach(entries, edges, cut={i for i, _ in group})
            only[(node["id"], label)] = _reach([e["to"] for _, e in group], edges) - without
    branch_of = {i: (e["from"], e["branch"] if "branch" in e else f"#{i}") for i, e in edges
                 if nodes[by_id[e["from"]]]["kind"] in BRANCHING}
    for n, node in enumerate(nodes):
        arriving = [(i, e) for i, e in edges if e["to"] == node["id"]]
        if len(arriving) < 2 or node.get("join", "all_success") != "all_success":
            continue
        # Per arriving edge: the (branching node, branch) pairs it can only come through.
        lanes = []
        for i, e in arriving:
            found = {pair for pair, members in only.items() if e["from"] in members}
            if i in branch_of:
                found.add(branch_of[i])
            lanes.append((e["from"], found))
        clash = next(((a, b, pa[0]) for ai, (a, la) in enumerate(lanes) for b, lb in lanes[ai + 1:]
                      for pa in la for pb in lb if pa[0] == pb[0] and pa[1] != pb[1]), None)
        if clash:
            problems.append(FlowProblem(pointer("nodes", n, "join"), (
                f"node '{node['id']}' can never run: its upstream '{clash[0]}' and '{clash[1]}' are on "
                f"exclusive branches of '{clash[2]}', so all_success never holds; use none_failed or "
                "one_success")))
    return problems

