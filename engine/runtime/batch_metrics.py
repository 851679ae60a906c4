"""What one engine batch did, added to the Prometheus counters after it commits.

Counted per batch with one pass over the batch's commands and instances: the metric writes
are one per label set, not one per row, so the hot path pays microseconds per batch.
"""

from __future__ import annotations

from collections import Counter as Tally

from engine.models import Command, ProcessInstance
from engine.runtime.state import InstanceRun
from flowsync import metrics

DONE = Command.State.PROCESSED
ENDED = {ProcessInstance.State.COMPLETED: "completed", ProcessInstance.State.TERMINATED: "terminated"}
# Job answers arrive as commands naming the job; the job's type is on the loaded row.
JOB_ANSWERS = {
    Command.Kind.COMPLETE_JOB: "completed",
    Command.Kind.JOB_FAILED: "failed",
    Command.Kind.THROW_ERROR: "error_thrown",
}


def record(runs: list[InstanceRun], commands: list[Command], seconds: float) -> None:
    progress.applied += len(commands)
    applied: Tally = Tally()
    failed: Tally = Tally()
    started: set[int] = set()
    answered: list[tuple[int, int, str]] = []
    for cmd in commands:
        if cmd.state == DONE:
            applied[(cmd.kind,)] += 1
            if cmd.kind == Command.Kind.CREATE_INSTANCE:
                started.add(cmd.process_instance_key)
            elif cmd.kind in JOB_ANSWERS and "jobKey" in cmd.payload:
                answered.append((cmd.process_instance_key, int(cmd.payload["jobKey"]), JOB_ANSWERS[cmd.kind]))
        else:
            failed[(cmd.kind, cmd.state.lower())] += 1
    metrics.add(metrics.commands_applied, applied)
    metrics.add(metrics.commands_failed, failed)
    metrics.batch_size.observe(len(commands))
    metrics.batch_seconds.observe(seconds)
    instances: Tally = Tally()
    job_events: Tally = Tally()
    by_key = {run.instance.key: run for run in runs}
    for instance_key, job_key, event in answered:
        run = by_key.get(instance_key)
        job = run.jobs.get(job_key) if run is not None else None
        if job is not None:
            job_events[(metrics.tenant_label(job.tenant_id), job.type, event)] += 1
    for run in runs:
        pi = run.instance
        tenant = metrics.tenant_label(pi.tenant_id)
        process_id = run.definition.bpmn_process_id
        if pi.key in started:
            instances[(tenant, process_id, "started")] += 1
        if run.instance_dirty and pi.state in ENDED:
            instances[(tenant, process_id, ENDED[pi.state])] += 1
            if pi.end_date is not None:
                metrics.instance_seconds.labels(tenant, process_id).observe(
                    (pi.end_date - pi.start_date).total_seconds())
        for job in run.created["jobs"].values():
            job_events[(tenant, job.type, "created")] += 1
    metrics.add(metrics.instances, instances)
    metrics.add(metrics.jobs, job_events)


class Progress:
    """This process's engine work so far, read by its heartbeat (engine/runtime/heartbeat.py)."""

    def __init__(self) -> None:
        self.applied = 0  # commands applied (processed, rejected or failed) since start
        self.batch = 0  # commands in the batch being applied now; 0 between batches


progress = Progress()
