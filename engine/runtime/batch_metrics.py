"""What one engine batch did, added to the Prometheus counters after it commits.

Counted per batch with one pass over the batch's commands and instances: the metric writes
are one per label set, not one per row, so the hot path pays microseconds per batch.
"""

from __future__ import annotations

from collections import Counter as Tally

from engine.models import Command, ProcessInstance
from engine.runtime.state import InstanceRun
from flowsync import metrics

# Plain strings, looked up once: this runs for every batch.
DONE = str(Command.State.PROCESSED.value)
CREATE = str(Command.Kind.CREATE_INSTANCE.value)
ENDED = {str(ProcessInstance.State.COMPLETED.value): "completed",
         str(ProcessInstance.State.TERMINATED.value): "terminated"}
# Job answers arrive as commands naming the job; the job's type is on the loaded row.
JOB_ANSWERS = {
    str(Command.Kind.COMPLETE_JOB.value): "completed",
    str(Command.Kind.JOB_FAILED.value): "failed",
    str(Command.Kind.THROW_ERROR.value): "error_thrown",
}


def record(runs: list[InstanceRun], commands: list[Command], seconds: float) -> None:
    progress.applied += len(commands)
    outcomes = Tally((cmd.kind, cmd.state) for cmd in commands)
    metrics.add(metrics.commands_applied, {(kind,): n for (kind, state), n in outcomes.items() if state == DONE})
    metrics.add(metrics.commands_failed,
                {(kind, state.lower()): n for (kind, state), n in outcomes.items() if state != DONE})
    metrics.batch_size.observe(len(commands))
    metrics.batch_seconds.observe(seconds)
    started = {cmd.process_instance_key for cmd in commands if cmd.kind == CREATE and cmd.state == DONE}
    instances: Tally = Tally()
    job_events: Tally = Tally()
    durations: dict[tuple[str, str], list[float]] = {}
    by_key: dict[int, InstanceRun] = {}
    for run in runs:
        pi = run.instance
        by_key[pi.key] = run
        labels = (metrics.tenant_label(pi.tenant_id), run.definition.bpmn_process_id)
        if pi.key in started:
            instances[(*labels, "started")] += 1
        if run.created["incidents"]:  # "failed": the instance stopped on an incident in this batch
            instances[(*labels, "failed")] += 1
        if run.instance_dirty and pi.state in ENDED:
            instances[(*labels, ENDED[pi.state])] += 1
            if pi.end_date is not None:
                durations.setdefault(labels, []).append((pi.end_date - pi.start_date).total_seconds())
        created = run.created["jobs"]
        if created:
            for job in created.values():
                job_events[(labels[0], job.type, "created")] += 1
    for cmd in commands:
        event = JOB_ANSWERS.get(cmd.kind)
        if event is not None and cmd.state == DONE and "jobKey" in cmd.payload:
            run = by_key.get(cmd.process_instance_key)
            job = run.jobs.get(int(cmd.payload["jobKey"])) if run is not None else None
            if job is not None:
                job_events[(metrics.tenant_label(job.tenant_id), job.type, event)] += 1
    metrics.add(metrics.instances, instances)
    metrics.add(metrics.jobs, job_events)
    for labels, values in durations.items():
        child = metrics.instance_seconds.labels(*labels)  # one label lookup per process, not per instance
        for value in values:
            child.observe(value)


class Progress:
    """This process's engine work so far, read by its heartbeat (engine/runtime/heartbeat.py)."""

    def __init__(self) -> None:
        self.applied = 0  # commands applied (processed, rejected or failed) since start
        self.batch = 0  # commands in the batch being applied now; 0 between batches


progress = Progress()
