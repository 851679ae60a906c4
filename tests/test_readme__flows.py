"""README "Flows", run as written: validate, deploy, read the webhook's URL and secret, sign and send a
delivery with curl and openssl, read the run and its steps — against a live server and an engine worker."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import make_tenant

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def flows_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Flows", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```\n(.*?)```", section, re.S)
    assert block, "README's Flows section has no command block"
    commands, current = [], ""
    for line in block.group(1).splitlines():
        current += line.rstrip()[:-1] + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            commands.append(current.strip())
            current = ""
    return [c for c in commands if c and not c.startswith("#")]


def test_readme_flows_commands_run_as_written(live_server, start_worker):
    creds = make_tenant("<default>")
    start_worker()
    env = {**os.environ, "ID": creds.client_id, "SECRET": creds.secret}
    host = live_server.url.removeprefix("http://")
    answers: list = []
    for command in flows_commands():
        if command.startswith("./scripts/run.sh") or command.startswith("ID=..."):
            continue
        if command.startswith("HOOK=..."):
            hook = answers[-1]["items"][0]
            env["HOOK"], env["HOOK_SECRET"] = hook["url"], hook["secret"]
            continue
        if command.startswith("RUN=..."):
            env["RUN"] = answers[-1]["executionId"]
            continue
        assignment = re.match(r"^(\w+)=(.*)$", command)
        if assignment:  # BODY=, TS=, SIG=: a shell assignment the next commands use
            done = subprocess.run(["bash", "-c", f"{command}\nprintf '%s' \"${assignment.group(1)}\""], env=env,
                                  capture_output=True, text=True, timeout=30)
            env[assignment.group(1)] = done.stdout
            continue
        assert command.startswith("curl "), command
        command = command.replace("localhost:8000", host).replace("curl ", "curl -sS --fail-with-body ", 1)
        done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        answers.append(json.loads(done.stdout) if done.stdout.strip() else {})
    # The answers, in order: validate, deploy, triggers, webhook, execution, steps.
    assert answers[0]["valid"] is True and answers[1]["version"] == 1
    assert answers[3]["duplicate"] is False
    execution, steps = answers[4], answers[5]["items"]
    assert execution["trigger"] == {"kind": "webhook", "id": "shop", "deliveryId": "order-A-1"}
    assert execution["input"] == {"orderId": "A-1", "amount": 250}
    assert [s["node"] for s in steps] == ["prepare", "big", "approve", "notify", "done"]
    # The same signed delivery again starts nothing new.
    replay = subprocess.run(["bash", "-c", 'curl -sS -X POST "$HOOK" -H "content-type: application/json" '
                             '-H "X-FlowSync-Timestamp: $TS" -H "X-FlowSync-Signature: sha256=$SIG" '
                             '-H "X-Shop-Delivery: order-A-1" -d "$BODY"'], env=env, capture_output=True, text=True)
    assert json.loads(replay.stdout) == {"executionId": execution["id"], "duplicate": True}
    # The run goes on in the worker: prepare and the condition have run, approve is skipped (small order).
    for _ in range(100):
        steps_url = f"{live_server.url}/api/flows/executions/$RUN/steps"
        got = subprocess.run(["bash", "-c", f"curl -sS -u $ID:$SECRET {steps_url}"], env=env, capture_output=True,
                             text=True)
        states = {s["node"]: s["status"] for s in json.loads(got.stdout)["items"]}
        if states["big"] == "succeeded":
            break
        time.sleep(0.1)
    assert states["prepare"] == "succeeded" and states["big"] == "succeeded", states
    assert states["approve"] in ("pending", "skipped")
