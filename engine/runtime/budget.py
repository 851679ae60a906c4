"""Runaway guards on the agenda: a step budget per command and a ceiling per command chain.

A process that loops without ever waiting (an exclusive gateway back to a script task)
would keep one run's agenda busy forever, pin its engine worker and make every other
instance wait. So:

- After `ENGINE_STEP_BUDGET` agenda steps a run stops and sends its own instance a
  CONTINUE command carrying the agenda left (element ids, scope keys, the variables its
  tokens bring), written in the same batch. The loop applies an instance's CONTINUE
  before its other pending commands, so the instance behaves as if the command had run
  to its end, only spread over batches, while other instances get their turns. Where a
  run yields depends on the step count only, never the clock, so replay (in timeline
  order) stops at the same place; CONTINUE keeps the command's `created_at`.
- A command and its continuations that take more than `ENGINE_MAX_CHAIN_STEPS` steps
  park the agenda on the process element instance with an incident. Resolving it (after
  fixing the data that kept the loop going) puts the parked agenda back and continues.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from engine.models import Command
from engine.runtime import tokens
from engine.runtime.errors import CommandRejected
from engine.runtime.state import InstanceRun

CONTINUE = Command.Kind.CONTINUE
LIMIT_INCIDENT = "EXECUTION_LIMIT_EXCEEDED"


def dump_agenda(run: InstanceRun) -> dict[str, Any]:
    """The run's queued work as JSON (activations name their element by id)."""
    entries: list[list[Any]] = []
    scopes: set[int] = set()
    for step, arg in run.agenda:
        if step == "activate":
            element, scope_key, flow_id, locals_, result, inner = arg
            entries.append(["a", element.id, scope_key, flow_id, locals_, result, inner])
            scopes.add(scope_key)
        else:
            entries.append([step, arg])
    return {"agenda": entries, "scopes": sorted(scopes), "pendingResults": dict(run.pending_results)}


def load_agenda(run: InstanceRun, state: dict[str, Any]) -> None:
    """Queue again what `dump_agenda` saved (activations count as tokens in flight again)."""
    for entry in state.get("agenda", []):
        if entry[0] == "a":
            _, element_id, scope_key, flow_id, locals_, result, inner = entry
            tokens.activate(run, run.element(element_id), int(scope_key), flow_id, locals_, result, inner)
        else:
            run.agenda.append((entry[0], int(entry[1])))
    run.pending_results.update(state.get("pendingResults") or {})


def _clear(run: InstanceRun) -> None:
    run.agenda.clear()
    run.inflight.clear()
    run.pending_results.clear()


def stop(run: InstanceRun, taken: int) -> None:
    """The run used its step budget with work left: yield to a CONTINUE, or park on an incident."""
    total = run.chain_steps + taken
    state = dump_agenda(run)
    _clear(run)
    process_ei = run.elements.get(run.instance.key)
    if total >= settings.ENGINE_MAX_CHAIN_STEPS and process_ei is not None:
        process_ei.data["parked"] = state
        run.add_incident(
            process_ei, LIMIT_INCIDENT,
            f"The instance took {total} element steps without waiting (limit {settings.ENGINE_MAX_CHAIN_STEPS}, "
            "FLOWSYNC_ENGINE_MAX_CHAIN_STEPS): most likely a loop that never exits. Fix the data the loop "
            "depends on (or cancel the instance), then resolve this incident to continue.",
        )
        process_ei.data["incidentPhase"] = "continue"
        return
    run.yielded = True
    run.record("COMMAND_YIELDED", steps=taken, chainSteps=total)
    run.send(run.instance.key, CONTINUE, {**state, "chainSteps": total})


def continue_command(run: InstanceRun, payload: dict[str, Any]) -> None:
    """CONTINUE: pick the agenda up where the previous command of the chain yielded."""
    if run.instance.state != run.instance.State.ACTIVE:
        raise CommandRejected("instance is not active")
    run.chain_steps = int(payload.get("chainSteps") or 0)
    load_agenda(run, payload)


def unpark(run: InstanceRun, process_ei: Any) -> None:
    """The runaway incident was resolved: queue the parked work again, with a fresh chain."""
    state = process_ei.data.pop("parked", None)
    run.touch("elements", process_ei)
    if state:
        load_agenda(run, state)


def holds(run: InstanceRun, scope_key: int) -> bool:
    """Tokens of this scope are parked: it must not complete under them."""
    process_ei = run.elements.get(run.instance.key)
    parked = process_ei.data.get("parked") if process_ei is not None else None
    return bool(parked) and scope_key in parked["scopes"]


class BatchGuard:
    """Time and size of one batch: past either, the batch leaves its remaining commands pending.

    Checked between commands only (a command's own size is bounded by the step budget), so
    what a command does never depends on the batch it happened to run in.
    """

    def __init__(self) -> None:
        self.deadline = time.monotonic() + settings.ENGINE_BATCH_SECONDS
        self.max_rows = settings.ENGINE_MAX_BATCH_ROWS
        self.rows = 0

    def spent(self) -> bool:
        return self.rows >= self.max_rows or time.monotonic() >= self.deadline
