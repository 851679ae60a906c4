"""Terminate end event: terminates every other token of its scope; the scope (here the process) completes."""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = pytest.mark.django_db


def test_terminate_end_ends_the_other_branch_and_completes_the_process(engine):
    engine.deploy("terminate-end")
    key = engine.start("terminate-end")
    engine.assert_clean_end(key)
    assert engine.completed(key) == Counter(["StartEvent_1", "Gateway_Fork", "Task_Fast", "EndEvent_Terminate",
                                             "terminate-end"])
    assert engine.terminated(key) == Counter(["Task_Slow"])
    assert [j.state for j in engine.jobs("slow-work")] == []
    from engine.models import Job

    assert list(Job.objects.filter(process_instance_key=key).values_list("state", flat=True)) == ["CANCELED"]
