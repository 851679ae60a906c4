"""History export to an S3-compatible bucket before the cleanup deletes: against a local S3-compatible
server (moto's server mode, a stand-in for the third-party store), one object per cleanup batch holding
each tree as a JSON line; an upload that fails deletes nothing."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from django.utils import timezone

from engine.models import ProcessInstance
from engine.store import archive, retention
from tests.engine.conformance.harness import Engine
from tests.ops.test_retention__cleanup import OLD, Scenario, rows_of

pytestmark = pytest.mark.django_db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def s3(s3_server, monkeypatch):  # type: ignore[no-untyped-def]
    for name, value in {"AWS_ENDPOINT_URL": s3_server, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    archive._s3.cache_clear()
    client = boto3.client("s3")
    yield client
    archive._s3.cache_clear()


def test_each_cleanup_batch_is_put_in_the_bucket_before_its_trees_go(creds, settings, s3):
    s3.create_bucket(Bucket="history")
    settings.FLOWSYNC_RETENTION_EXPORT_DIR = "s3://history/flowsync/"
    s = Scenario(Engine(creds.tenant))
    roots = [s.finished(OLD), s.finished(OLD)]
    expected = {root: rows_of(s.tree(root)) for root in roots}
    assert retention.cleanup(timezone.now(), batch_size=1).instances == 4
    listed = s3.list_objects_v2(Bucket="history", Prefix="flowsync/_default_/")["Contents"]
    assert len(listed) == 2  # one object per batch (of one tree here)
    day = timezone.now().date().isoformat()
    assert all(o["Key"].startswith(f"flowsync/_default_/{day}/") and o["Key"].endswith(".jsonl") for o in listed)
    lines = [json.loads(line) for o in listed
             for line in s3.get_object(Bucket="history", Key=o["Key"])["Body"].read().decode().splitlines()]
    assert sorted(int(line["rootInstanceKey"]) for line in lines) == sorted(roots)
    for line in lines:
        counts = expected[int(line["rootInstanceKey"])]
        for table in ("element_instances", "variables", "jobs", "commands", "events"):
            assert len(line.get(table, [])) == counts[table] > 0, table
    assert not ProcessInstance.objects.filter(key__in=roots).exists()


def test_a_failed_upload_deletes_nothing(creds, settings, s3):
    settings.FLOWSYNC_RETENTION_EXPORT_DIR = "s3://no-such-bucket/x"
    s = Scenario(Engine(creds.tenant))
    root = s.finished(OLD)
    with pytest.raises(Exception, match="NoSuchBucket"):
        retention.cleanup(timezone.now())
    assert ProcessInstance.objects.filter(key=root).exists()
    assert rows_of(s.tree(root))["variables"] > 0
