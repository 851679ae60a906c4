"""Run the DMN TCK (or any folder of the same layout) through FlowSync's DMN engine.

    .venv/bin/python bench/dmn_tck.py [DIR] [-v]

DIR (default ../shared/dmn-tck beside the repository) is searched recursively for test files
(`*-test-*.xml`, TCK testCases format); each names its model (`<modelName>`), found in the
same directory. A test case passes when every `resultNode` matches its expected value;
it *fails* when a value differs and *errors* when the engine cannot evaluate it (an
unsupported construct, a model that does not parse). Printed per directory and in total;
-v lists every case that did not pass with the reason.

Comparison: numbers by value with a relative tolerance of 1e-9 (the engine computes in 34-digit
decimals, but results leave it as JSON doubles); date/time values as the ISO text the engine
returns; a resultNode marked errorResult="true" expects null or an evaluation error. Inputs
typed xsd:date, dateTime, time or duration are given as FEEL values, as the TCK means them.

Imports: the folder's other .dmn files are the models a model's <import>s may name (by
namespace); an inputNode with a namespace of an imported model is given under the import
prefixes that lead to it.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent


def _default_dir() -> Path:
    """FLOWSYNC_DMN_TCK, else the shared folder beside this checkout, else the workplace's own (a
    checkout elsewhere, e.g. CI's clean clone, still finds the suite)."""
    if os.environ.get("FLOWSYNC_DMN_TCK"):
        return Path(os.environ["FLOWSYNC_DMN_TCK"])
    beside = ROOT / ".." / "shared" / "dmn-tck"
    return beside if beside.is_dir() else Path("/work/shared/dmn-tck")


DEFAULT_DIR = _default_dir()
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"


@dataclass
class Outcome:
    directory: str
    case: str
    status: str  # passed | failed | errored
    reason: str = ""


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str, directory: str | None = None) -> int:
        return sum(1 for o in self.outcomes if o.status == status and (directory is None or o.directory == directory))

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def pass_rate(self) -> float:
        return self.count("passed") / self.total if self.total else 0.0


def setup() -> None:
    """Django settings only (the XML size limit lives there); no database is touched."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsync.settings")
    os.environ.setdefault("FLOWSYNC_SECRET_KEY", secrets.token_urlsafe(50))
    import django

    django.setup()


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _number(text: str) -> Any:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return text
    return (
        int(value)
        if value == value.to_integral_value() and "e" not in text.lower() and "." not in text
        else float(value)
    )


def read_value(element: etree._Element, temporal: Callable[[str, str], Any] | None = None) -> Any:
    """A TCK <value>, <list> or component-bearing element as plain Python (the engine's shapes).

    temporal(kind, text) reads xsd:date, dateTime, time and duration values as the engine's FEEL
    values (inputs: the TCK means a FEEL date, not text); without it they stay text (expected
    results, compared with the ISO text the engine returns).
    """
    if element.get(XSI + "nil") == "true":
        return None
    children = [c for c in element if isinstance(c.tag, str)]
    components = [c for c in children if _local(c.tag) == "component"]
    if components:
        return {c.get("name"): read_value(c, temporal) for c in components}
    lists = [c for c in children if _local(c.tag) == "list"]
    if lists:
        return [read_value(item, temporal) for item in lists[0] if _local(item.tag) == "item"]
    if _local(element.tag) == "list":
        return [read_value(item, temporal) for item in element if _local(item.tag) == "item"]
    values = [c for c in children if _local(c.tag) == "value"]
    if values:
        return read_value(values[0], temporal)
    kind = (element.get(XSI + "type") or "").split(":")[-1]
    text = element.text or ""
    if kind in ("decimal", "double", "float", "integer", "int", "long"):
        return _number(text)
    if kind == "boolean":
        return text.strip() == "true"
    if temporal is not None and kind in ("date", "dateTime", "time", "duration"):
        return temporal(kind, text.strip())
    return text


def same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(same(e, a) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(same(expected[k], actual[k]) for k in expected)
    return type(expected) is type(actual) and expected == actual


def run(directory: Path) -> Report:
    from engine.bpmn.errors import DefinitionError
    from engine.dmn import DecisionError, evaluate, parse_dmn
    from engine.expressions import feel_temporal

    readers = {
        "date": feel_temporal.parse_date,
        "dateTime": feel_temporal.parse_date_time,
        "time": feel_temporal.parse_time,
        "duration": feel_temporal.parse_duration,
    }

    def temporal(kind: str, text: str) -> Any:
        try:
            return readers[kind](text)
        except ValueError:
            return text

    def written(kind: str, text: str) -> Any:
        # An expected date or duration as the engine writes it (P1Y0M is P1Y).
        value = temporal(kind, text)
        return text if isinstance(value, str) else str(value)

    report = Report()
    now = dt.datetime.now(dt.UTC)  # the TCK's today() and now() cases read the real clock
    for test_file in sorted(directory.rglob("*-test-*.xml")):
        relative = str(test_file.parent.relative_to(directory))
        tree = etree.parse(str(test_file), etree.XMLParser(resolve_entities=False, no_network=True))
        root = tree.getroot()
        model_name = next((c.text for c in root if _local(c.tag) == "modelName"), None)
        cases = [c for c in root if _local(c.tag) == "testCase"]
        model_error = ""
        definitions = None
        try:
            definitions = parse_dmn((test_file.parent / (model_name or "")).read_bytes(), model_name or "")
        except (OSError, DefinitionError) as exc:
            model_error = f"model: {exc}"
        models = _other_models(test_file.parent, model_name or "") if definitions and definitions.imports else {}
        for case in cases:
            name = f"{test_file.name}#{case.get('id')}"
            if definitions is None:
                report.outcomes.append(Outcome(relative, name, "errored", model_error))
                continue
            inputs: dict[str, Any] = {}
            for n in (n for n in case if _local(n.tag) == "inputNode"):
                # An input of an imported model (its namespace given) goes under the import prefixes
                # that lead to that model, as the importing model names it (`Model B.modelA.Person name`).
                paths = _prefix_paths(definitions, n.get("namespace"), models)
                for path in paths or [()]:
                    target = inputs
                    for prefix in path:
                        target = target.setdefault(prefix, {})
                    target[n.get("name")] = read_value(n, temporal)
            status, reason = "passed", ""
            for node in (n for n in case if _local(n.tag) == "resultNode"):
                expects_error = node.get("errorResult") == "true"
                expected_el = next((c for c in node if _local(c.tag) == "expected"), None)
                expected = read_value(expected_el, written) if expected_el is not None else None
                try:
                    result_name = node.get("name", "")
                    service = case.get("invocableName") if case.get("type") == "decisionService" else None
                    if service:
                        # Through the service: input decisions it does not get are null, not evaluated.
                        value = evaluate(definitions, service, inputs, now=now, models=models)[service]
                        several = isinstance(value, dict) and result_name in value and result_name != service
                        actual = value[result_name] if several else value
                    else:
                        decision = definitions.find(result_name)
                        result = evaluate(definitions, result_name, inputs, now=now, models=models)
                        actual = result[decision.name if decision else result_name]
                except DecisionError as exc:
                    if exc.unsupported:
                        status, reason = "errored", f"{node.get('name')}: {exc}"
                        break
                    actual = None  # a model-caused evaluation error: the result is null
                    if expects_error or expected is None:
                        continue
                    status, reason = "failed", f"{node.get('name')}: error {exc}, expected {expected!r}"
                    break
                except Exception as exc:  # noqa: BLE001 - any engine crash is an errored case, not a crashed run
                    status, reason = "errored", f"{node.get('name')}: {type(exc).__name__}: {exc}"
                    break
                if expects_error and actual is None:
                    continue
                if not same(expected, actual):
                    status, reason = "failed", f"{node.get('name')}: expected {expected!r}, got {actual!r}"
                    break
            report.outcomes.append(Outcome(relative, name, status, reason))
    return report


def _other_models(directory: Path, model_name: str) -> dict[str, Any]:
    """The folder's other .dmn files by namespace: what a model's <import>s may name."""
    from engine.bpmn.errors import DefinitionError
    from engine.dmn import parse_dmn

    models = {}
    for path in sorted(directory.glob("*.dmn")):
        if path.name != model_name:
            try:
                model = parse_dmn(path.read_bytes(), path.name)
            except DefinitionError:
                continue
            models[model.namespace] = model
    return models


def _prefix_paths(definitions: Any, namespace: str | None, models: dict[str, Any]) -> list[tuple[str, ...]]:
    """Every chain of import prefixes from the model to the one with this namespace ([] if it is the model)."""
    if not namespace or namespace == definitions.namespace:
        return []
    found: list[tuple[str, ...]] = []
    pending = [(definitions, ())]
    while pending:
        model, path = pending.pop()
        for imported in model.imports:
            if imported.namespace == namespace:
                found.append((*path, imported.name))
            elif imported.namespace in models and len(path) < 10:
                pending.append((models[imported.namespace], (*path, imported.name)))
    return found


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    directory = Path(args[0]) if args else DEFAULT_DIR
    setup()
    report = run(directory.resolve())
    directories = sorted({o.directory for o in report.outcomes})
    width = max((len(d) for d in directories), default=10)
    print(f"{'directory':<{width}}  passed  failed  errored")
    for d in directories:
        print(
            f"{d:<{width}}  {report.count('passed', d):6}  {report.count('failed', d):6}"
            f"  {report.count('errored', d):7}"
        )
    print(
        f"{'TOTAL':<{width}}  {report.count('passed'):6}  {report.count('failed'):6}  {report.count('errored'):7}"
        f"  of {report.total} test cases: {report.pass_rate:.1%} passed"
    )
    if verbose:
        for o in report.outcomes:
            if o.status != "passed":
                print(f"{o.status.upper():8} {o.directory}/{o.case}: {o.reason[:300]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
