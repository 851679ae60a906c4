from __future__ import annotations

from engine.graph import Element
from engine.models import ElementInstance, Job
from engine.runtime.behaviors.base import Behavior
from engine.runtime.expr import evaluate_int, evaluate_string
from engine.runtime.state import InstanceRun
from engine.store.rows import new_row


class JobTaskBehavior(Behavior):
    """Service (and other job-based) tasks: create a job and wait for a worker to complete it."""

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        props = element.props
        job_type = evaluate_string(run, ei.key, props["jobType"], "the job type")
        retries = evaluate_int(run, ei.key, props.get("retries", "3"), "the job retries")
        headers = {k: v for k, v in props.get("headers", {}).items()}
        job = new_row(Job, **run.element_work(ei),
            type=job_type, retries=retries, custom_headers=headers, state=Job.State.ACTIVATABLE,
            created_at=run.now,
        )
        run.add_job(job)
        ei.data["jobKey"] = job.key
        run.record("JOB_CREATED", ei, jobKey=str(job.key), jobType=job.type)

    def terminate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        job = run.jobs.get(ei.data.get("jobKey", 0))
        if job is not None and job.state in (Job.State.ACTIVATABLE, Job.State.ACTIVATED, Job.State.FAILED):
            job.state = Job.State.CANCELED
            run.touch("jobs", job)
            run.record("JOB_CANCELED", ei, jobKey=str(job.key))
