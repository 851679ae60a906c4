"""Reading Camunda 8 `zeebe:` extension elements, all in one place."""

from __future__ import annotations

from typing import Any

from lxml import etree

from engine.bpmn.xml import BPMN_NS, ZEEBE_NS


def extension(el: etree._Element, name: str) -> etree._Element | None:
    return el.find(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}{name}")


def extensions(el: etree._Element, path: str) -> list[etree._Element]:
    return el.findall(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}{path}")


def task_definition(el: etree._Element) -> dict[str, Any] | None:
    td = extension(el, "taskDefinition")
    if td is None:
        return None
    return {"type": td.get("type", ""), "retries": td.get("retries", "3")}


def task_headers(el: etree._Element) -> dict[str, str]:
    return {h.get("key", ""): h.get("value", "") for h in extensions(el, f"taskHeaders/{{{ZEEBE_NS}}}header")}


def io_mapping(el: etree._Element) -> dict[str, list[dict[str, str]]]:
    """Input and output mappings as [{"source": expr, "target": name}] lists."""
    z = f"{{{ZEEBE_NS}}}"
    inputs = [{"source": m.get("source", ""), "target": m.get("target", "")} for m in extensions(el, f"ioMapping/{z}input")]
    outputs = [
        {"source": m.get("source", ""), "target": m.get("target", "")} for m in extensions(el, f"ioMapping/{z}output")
    ]
    return {"inputs": inputs, "outputs": outputs}
