"""README "Try it", run as written: its curl commands, read from README.md, against a live server
holding the demo data (whose own jobs must not get in the way), until the instance is COMPLETED."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


def try_it_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Try it", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```\n(.*?)```", section, re.S)
    assert block, "README's Try it has no command block"
    commands, current = [], ""
    for line in block.group(1).splitlines():
        current += line.rstrip()[:-1] + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            commands.append(current.strip())
            current = ""
    return [c for c in commands if c]


def test_readme_commands_name_no_placeholder_but_the_shell_variables_they_set():
    commands = try_it_commands()
    assert commands[0].startswith("./scripts/run.sh")
    assert not any("<" in c.split("#")[0] for c in commands), commands
    assert "payment" not in " ".join(commands)  # the demo order's job type


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_readme_try_it_reaches_completed(live_server, transactional_db, settings, tmp_path):
    settings.ENGINE_INLINE = True  # as in the embedded run: commands are applied before the answer
    creds_file = tmp_path / "credentials.json"
    call_command("flowsync_bootstrap", "--demo", "--credentials-file", str(creds_file))
    from engine.runtime.loop import drain

    drain()
    creds = json.loads(creds_file.read_text())
    env = {**os.environ, "ID": creds["clientId"], "SECRET": creds["clientSecret"]}
    host = live_server.url.removeprefix("http://")
    answers: list[dict] = []
    for command in try_it_commands():
        if command.startswith("./scripts/run.sh"):
            continue  # the live server stands in for it
        name = re.match(r"^(\w+)=\.\.\.", command)
        if name and name.group(1) == "ID":
            continue  # set above, from the credentials file bootstrap wrote
        if name and name.group(1) == "INSTANCE":
            env["INSTANCE"] = answers[-1]["processInstanceKey"]
            continue
        if name and name.group(1) == "JOB":
            jobs = answers[-1]["jobs"]
            assert len(jobs) == 1 and jobs[0]["processInstanceKey"] == env["INSTANCE"], jobs
            env["JOB"] = jobs[0]["jobKey"]
            continue
        assert command.startswith("curl "), command
        command = command.replace("localhost:8000", host).replace("curl ", "curl -sS --fail-with-body ", 1)
        done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        answers.append(json.loads(done.stdout) if done.stdout.strip() else {})
    final = answers[-1]
    for _ in range(50):  # with engine workers, the completion is applied a moment after the answer
        if final.get("state") == "COMPLETED":
            break
        time.sleep(0.1)
        done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        final = json.loads(done.stdout)
    assert final["state"] == "COMPLETED", final
    assert final["processDefinitionId"] == "try-it"
