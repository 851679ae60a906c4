"""Multi-instance on any activity: parallel and sequential, input/output collections, loopCounter,
completionCondition."""

from __future__ import annotations

from collections import Counter

import pytest

from engine.models import ElementInstance, Job

pytestmark = pytest.mark.django_db


def test_parallel_script_task(engine):
    engine.deploy("multi-instance-parallel")
    key = engine.start("multi-instance-parallel", items=[1, 2, 3])
    engine.assert_clean_end(key)
    # The body and its three inner instances all carry the activity's id.
    assert engine.completed(key) == Counter({"Task_Each": 4, "StartEvent_1": 1, "EndEvent_1": 1,
                                             "multi-instance-parallel": 1})
    types = list(ElementInstance.objects.filter(process_instance_id=key, element_id="Task_Each")
                 .order_by("key").values_list("element_type", flat=True))
    assert types == ["MULTI_INSTANCE_BODY", "SCRIPT_TASK", "SCRIPT_TASK", "SCRIPT_TASK"]
    assert engine.variables(key) == {"items": [1, 2, 3], "doubled": [2, 4, 6], "last": 30}
    inner = [(v[1], v[2]) for v in engine.all_variables(key) if v[0] == "Task_Each" and v[1] == "loopCounter"]
    assert sorted(inner) == [("loopCounter", 1), ("loopCounter", 2), ("loopCounter", 3)]


def test_empty_collection_completes_at_once(engine):
    engine.deploy("multi-instance-parallel")
    key = engine.start("multi-instance-parallel", items=[])
    engine.assert_clean_end(key)
    assert engine.completed(key)["Task_Each"] == 1
    assert engine.variables(key) == {"items": [], "doubled": []}


def test_input_collection_that_is_not_a_list_is_an_incident(engine):
    engine.deploy("multi-instance-parallel")
    key = engine.start("multi-instance-parallel", items="1,2")
    [(element_id, error_type, _)] = engine.incidents(key)
    assert (element_id, error_type) == ("Task_Each", "EXTRACT_VALUE_ERROR")


def test_sequential_runs_one_after_the_other(engine):
    engine.deploy("multi-instance-sequential")
    key = engine.start("multi-instance-sequential", orders=["o1", "o2", "o3"])
    seen = []
    for _ in range(3):
        [job] = engine.jobs("ship")
        variables = engine.job_variables(job)
        seen.append((variables["loopCounter"], variables["order"]))
        engine.complete_jobs("ship", {"receipt": f"r-{variables['order']}"})
    assert seen == [(1, "o1"), (2, "o2"), (3, "o3")]
    engine.assert_clean_end(key)
    assert engine.variables(key) == {"orders": ["o1", "o2", "o3"], "receipts": ["r-o1", "r-o2", "r-o3"],
                                     "receipt": "r-o3"}
    assert engine.completion_order(key) == ["StartEvent_1", "Task_Ship", "Task_Ship", "Task_Ship", "Task_Ship",
                                            "EndEvent_1", "multi-instance-sequential"]


def test_completion_condition_terminates_the_rest(engine):
    engine.deploy("multi-instance-completion")
    key = engine.start("multi-instance-completion", voters=["a", "b", "c"])
    jobs = engine.jobs("vote")
    assert len(jobs) == 3
    from engine.actions.jobs import activate_jobs, complete_job
    from engine.runtime.loop import drain

    activate_jobs([engine.tenant.pk], "vote", "w", 60_000, 3, engine.now())
    complete_job([engine.tenant.pk], jobs[0].key, {}, "w", engine.now())
    drain()
    assert engine.state(key) == "ACTIVE"
    complete_job([engine.tenant.pk], jobs[2].key, {}, "w", engine.now())
    drain()
    engine.assert_clean_end(key)
    assert engine.completed(key) == Counter({"Task_Vote": 3, "StartEvent_1": 1, "EndEvent_1": 1,
                                             "multi-instance-completion": 1})
    assert engine.terminated(key) == Counter(["Task_Vote"])
    assert Job.objects.get(key=jobs[1].key).state == "CANCELED"


def test_multi_instance_subprocess_with_local_result(engine):
    engine.deploy("multi-instance-subprocess")
    key = engine.start("multi-instance-subprocess", numbers=[2, 3, 4])
    engine.assert_clean_end(key)
    assert engine.variables(key) == {"numbers": [2, 3, 4], "squares": [4, 9, 16]}
    assert engine.completed(key) == Counter({"SubProcess_Each": 4, "StartEvent_Sub": 3, "Task_Square": 3,
                                             "EndEvent_Sub": 3, "StartEvent_1": 1, "EndEvent_1": 1,
                                             "multi-instance-subprocess": 1})
