"""What S3 holds is untrusted input (issue 20, sections 3 and 5): a deploy-lock body or a
stored manifest written by hand or by another tool never ends in a traceback or a call
on a value it should not make (``os.kill`` with a pid past any system's)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from support.faults import MotoServer, client

from layer_tasks.aws import deploy_lock
from layer_tasks.aws.manifests import find_manifest, read_manifest
from layer_tasks.errors import LayerError

BUCKET = "untrusted-bucket"
KEY = deploy_lock.lock_key("layers", "demo-layer")
GOOD = {
    "host": "ci-7",
    "pid": 4242,
    "token": "ab" * 16,
    "user": "ci",
    "since": "2026-01-01T00:00:00Z",
}


@pytest.fixture
def s3(server: MotoServer) -> Any:
    server.reset()
    s3 = client(server.url, "s3")
    s3.create_bucket(Bucket=BUCKET)
    return s3


@pytest.mark.parametrize(
    "body",
    [
        {**GOOD, "pid": 10**30},  # os.kill: OverflowError
        {**GOOD, "pid": -1},  # os.kill(-1, 0) asks about every process
        {**GOOD, "pid": 0},  # ... and 0 about our own group
        {**GOOD, "pid": True},
        {**GOOD, "pid": "4242"},
        {**GOOD, "pid": 4242.5},
        {**GOOD, "host": "x\x1b[2J\x1b[H"},  # a terminal escape, shown in a message
        {**GOOD, "user": "u" * 10_000},
        {**GOOD, "token": ["list"]},
        {k: v for k, v in GOOD.items() if k != "token"},
        [GOOD],
        "just text",
    ],
)
def test_a_lock_body_not_ours_is_an_unreadable_lock(s3: Any, body: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=json.dumps(body).encode())
    state = deploy_lock.read_lock(s3, BUCKET, KEY)
    assert state is not None and state.holder is None
    assert "an unreadable lock body" in state.describe()


@pytest.mark.parametrize(
    "data",
    [b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe" * 10, b" " * (deploy_lock.MAX_BODY_BYTES + 1)],
)
def test_huge_deep_or_binary_bodies(s3: Any, data: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=data)
    state = deploy_lock.read_lock(s3, BUCKET, KEY)
    assert state is not None and state.holder is None


def test_a_holder_with_a_huge_pid_is_never_asked_about(monkeypatch: pytest.MonkeyPatch) -> None:
    holder = deploy_lock.Holder.here()
    calls: list[int] = []
    monkeypatch.setattr(deploy_lock.os, "kill", lambda pid, sig: calls.append(pid))
    for pid in (10**30, -1, 0):
        assert not deploy_lock.Holder(**{**holder.__dict__, "pid": pid}).gone()
    assert calls == []


def test_waiting_on_an_unreadable_lock_ends_in_one_line(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=json.dumps({**GOOD, "pid": 10**30}).encode())
    with pytest.raises(LayerError, match=r"holds the lock .*: an unreadable lock body"):
        deploy_lock.acquire(
            s3, BUCKET, KEY, wait_seconds=0, stale_after=dt.timedelta(hours=1), log=print
        )


def test_a_garbled_date_header_counts_as_a_fresh_lock() -> None:
    now = dt.datetime.now(dt.timezone.utc)
    assert deploy_lock._age("not a date", now) == dt.timedelta(0)
    assert deploy_lock._age("Tue, 01 Jan 2030 00:00:00 -0000", now) > dt.timedelta(0)


def test_a_stored_manifest_not_ours(s3: Any) -> None:
    key = "layers/demo-layer/20260101-000000/demo-layer.manifest.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"[" * 200 + b"]" * 200)
    assert read_manifest(s3, BUCKET, key) is None  # too deep: not read
    s3.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=json.dumps({"code_sha256": "abc", "distributions": [1, "x"]}).encode(),
    )
    with pytest.raises(LayerError, match=r"the stored manifest s3://.* is unreadable"):
        find_manifest(s3, BUCKET, "layers", "demo-layer", "abc")
