"""Wait-state tests drive actions directly with an injected clock (no sleeps)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.actions.instances import find_definition, start_instance
from engine.definitions.deploy import Resource, deploy
from engine.models import ElementInstance, ProcessInstance
from engine.runtime.loop import drain

BPMN = Path(__file__).resolve().parent / "bpmn"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Engine:
    def __init__(self, tenant):
        self.tenant = tenant
        self.now = T0

    def deploy(self, name: str):
        return deploy(self.tenant, [Resource(name, (BPMN / name).read_bytes())], self.now)[1]

    def start(self, process_id: str, **variables) -> int:
        definition = find_definition(self.tenant, process_id=process_id)
        key = start_instance(self.tenant, definition, variables, "test", self.now).key
        drain()
        return key

    def advance(self, **delta) -> None:
        from engine.timers.firing import fire_due_timers

        self.now += timedelta(**delta)
        while fire_due_timers(self.now):
            pass
        drain()

    def active(self, key: int) -> set[str]:
        return set(ElementInstance.objects.filter(process_instance_id=key, state="ACTIVE")
                   .values_list("element_id", flat=True))

    def completed(self, key: int) -> list[str]:
        return sorted(ElementInstance.objects.filter(process_instance_id=key, state="COMPLETED")
                      .values_list("element_id", flat=True))

    def state(self, key: int) -> str:
        return ProcessInstance.objects.get(key=key).state


@pytest.fixture
def engine(creds):
    return Engine(creds.tenant)
