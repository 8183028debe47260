"""The deploy lock in S3 (conditional writes), against the moto server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from support.cli import inv, make_project
from support.faults import FaultInjector, MotoServer, client, no_backoff

from layer_tasks.aws import deploy_lock
from layer_tasks.errors import LayerError

BUCKET = "lock-bucket"
KEY = deploy_lock.lock_key("layers", "demo-layer")
FRESH = dt.timedelta(hours=1)


@pytest.fixture
def endpoint(endpoint: str) -> str:
    """The emptied moto server (conftest's ``endpoint``), with the lock's bucket."""
    client(endpoint, "s3").create_bucket(Bucket=BUCKET)
    return endpoint


def machine(endpoint: str) -> Any:
    """An S3 client of its own, as another machine would have."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def stored(endpoint: str) -> dict[str, Any] | None:
    state = deploy_lock.read_lock(client(endpoint, "s3"), BUCKET, KEY)
    if state is None:
        return None
    assert state.holder is not None
    return {"etag": state.etag, **json.loads(state.holder.body())}


def test_lock_key_sits_beside_the_layer_zips() -> None:
    assert deploy_lock.lock_key("layers", "demo") == "layers/demo/deploy.lock"
    assert deploy_lock.lock_key("", "demo") == "demo/deploy.lock"


def test_the_lock_names_its_holder_and_is_removed_on_release(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    lines: list[str] = []
    s3 = machine(endpoint)
    counted = FaultInjector().attach(s3)  # no faults: it only counts the requests sent
    with deploy_lock.hold(
        s3, BUCKET, KEY, wait_seconds=0, stale_after=FRESH, log=lines.append
    ) as lock:
        body = stored(endpoint)
        assert body is not None
        assert body["pid"] == lock.holder.pid
        assert body["host"] and body["user"] and body["since"].endswith("Z")
        assert body["ci_run"] == "GITHUB_RUN_ID=4242"
        assert len(body["token"]) == 32
        assert body["etag"] == lock.etag
    assert stored(endpoint) is None
    assert lines == []
    # An uncontended deploy pays two requests for the lock.
    assert dict(counted.seen) == {"PutObject": 1, "DeleteObject": 1}


def test_a_second_deploy_fails_after_the_wait_naming_the_holder(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_RUN_ID", "777")
    first = deploy_lock.acquire(
        machine(endpoint), BUCKET, KEY, wait_seconds=0, stale_after=FRESH, log=print
    )
    lines: list[str] = []
    started = time.monotonic()
    with pytest.raises(LayerError) as failed:
        deploy_lock.acquire(
            machine(endpoint),
            BUCKET,
            KEY,
            wait_seconds=0.6,
            stale_after=FRESH,
            log=lines.append,
            first_poll=0.05,
        )
    assert 0.6 <= time.monotonic() - started < 5
    message = failed.value.message
    assert "\n" not in message
    assert f"pid {first.holder.pid}" in message and "GITHUB_RUN_ID=777" in message
    assert "inv layer.unlock" in message
    assert len(lines) == 1 and "waiting up to 0.6 s" in lines[0]
    # The waiter changed nothing: the first holder's lock is intact.
    assert stored(endpoint)["etag"] == first.etag  # type: ignore[index]


@pytest.mark.parametrize("round_", range(3))
def test_two_acquirers_at_the_same_moment_exactly_one_holds_at_a_time(
    endpoint: str, round_: int
) -> None:
    barrier = threading.Barrier(2)
    inside: list[int] = []
    most_inside = 0
    order: list[str] = []
    waited: dict[str, list[str]] = {"a": [], "b": []}
    errors: list[BaseException] = []
    guard = threading.Lock()

    def deploy(who: str) -> None:
        nonlocal most_inside
        s3 = machine(endpoint)
        barrier.wait()
        try:
            with deploy_lock.hold(
                s3,
                BUCKET,
                KEY,
                wait_seconds=20,
                stale_after=FRESH,
                log=waited[who].append,
                first_poll=0.05,
            ):
                with guard:
                    inside.append(1)
                    most_inside = max(most_inside, len(inside))
                    order.append(who)
                    first = len(order) == 1
                # The first holder keeps the lock until the other one has found it held
                # (on a loaded machine 0.3 s may pass before the other even asks).
                other = "b" if who == "a" else "a"
                until = time.monotonic() + 20
                while first and not waited[other] and time.monotonic() < until:
                    time.sleep(0.02)
                time.sleep(0.3)
                with guard:
                    inside.pop()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=deploy, args=(who,)) for who in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(order) == ["a", "b"]
    assert most_inside == 1
    second = order[1]
    assert len(waited[second]) == 1 and "is held by" in waited[second][0]
    assert waited[order[0]] == []
    assert stored(endpoint) is None


# One deploy on "another machine": its own process, pid and client; holds the lock 0.5 s.
# It says when it is ready (imports done, client made), then reads the instant to start at.
PROCESS = """
import json, sys, time
import boto3
from datetime import timedelta
from layer_tasks.aws import deploy_lock
endpoint, key = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
lines = []
print("ready", flush=True)
start = float(sys.stdin.readline())
time.sleep(max(0.0, start - time.time()))
with deploy_lock.hold(s3, "lock-bucket", key, wait_seconds=20, stale_after=timedelta(hours=1),
                      log=lines.append, first_poll=0.05):
    got = time.time()
    time.sleep(0.5)
    done = time.time()
print(json.dumps({"got": got, "done": done, "lines": lines}))
"""


# `once`: two real processes; the same race in threads runs on every Python above.
@pytest.mark.once
def test_two_processes_started_together_hold_the_lock_one_after_the_other(endpoint: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS, endpoint, KEY],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    # Both are ready (a fixed head start was not enough for two interpreters to import
    # boto3 on a busy machine), then both wait on the same instant.
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n", proc.communicate(timeout=60)[1]
    start = time.time() + 0.5
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(f"{start}\n")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    first, second = sorted(results, key=lambda r: r["got"])
    assert first["done"] <= second["got"]
    assert first["lines"] == []
    assert len(second["lines"]) == 1 and "is held by" in second["lines"][0]
    assert stored(endpoint) is None


def test_a_stale_lock_is_taken_over_with_a_warning(endpoint: str) -> None:
    old = deploy_lock.acquire(
        machine(endpoint), BUCKET, KEY, wait_seconds=0, stale_after=FRESH, log=print
    )
    # Not stale yet: a fresh lock is never taken over.
    with pytest.raises(LayerError, match="another deploy holds the lock"):
        deploy_lock.acquire(
            machine(endpoint), BUCKET, KEY, wait_seconds=0, stale_after=FRESH, log=print
        )
    lines: list[str] = []
    new = deploy_lock.acquire(
        machine(endpoint),
        BUCKET,
        KEY,
        wait_seconds=0,
        stale_after=dt.timedelta(0),
        log=lines.append,
    )
    assert len(lines) == 1
    assert (
        lines[0].startswith("warning:") and "is older than" in lines[0] and "taken over" in lines[0]
    )
    assert f"pid {old.holder.pid}" in lines[0]
    body = stored(endpoint)
    assert body is not None and body["token"] == new.holder.token != old.holder.token


def test_two_takers_of_one_stale_lock_cannot_both_win(endpoint: str) -> None:
    s3 = machine(endpoint)
    stale = deploy_lock.acquire(s3, BUCKET, KEY, wait_seconds=0, stale_after=FRESH, log=print)
    takers = [deploy_lock.Holder.here(), deploy_lock.Holder.here()]
    barrier = threading.Barrier(2)
    won: list[str | None] = [None, None]

    def take(i: int) -> None:
        other = machine(endpoint)
        barrier.wait()
        won[i] = deploy_lock.take_over(other, BUCKET, KEY, takers[i], stale.etag)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    winners = [i for i in range(2) if won[i] is not None]
    assert len(winners) == 1
    body = stored(endpoint)
    assert body is not None and body["token"] == takers[winners[0]].token
    # Taking over a lock that is gone creates nothing either.
    s3.delete_object(Bucket=BUCKET, Key=KEY)
    assert deploy_lock.take_over(s3, BUCKET, KEY, takers[0], str(won[winners[0]])) is None
    assert stored(endpoint) is None


def test_release_never_deletes_someone_elses_lock(endpoint: str) -> None:
    mine = deploy_lock.acquire(
        machine(endpoint), BUCKET, KEY, wait_seconds=0, stale_after=FRESH, log=print
    )
    theirs = deploy_lock.acquire(
        machine(endpoint), BUCKET, KEY, wait_seconds=0, stale_after=dt.timedelta(0), log=print
    )
    lines: list[str] = []
    mine.release(lines.append)
    body = stored(endpoint)
    assert body is not None and body["token"] == theirs.holder.token
    assert len(lines) == 1 and "taken over by" in lines[0] and "left in place" in lines[0]
    # And refreshing a lock that is no longer ours stops the deploy.
    with pytest.raises(LayerError, match="no longer ours"):
        mine.refresh()
    assert stored(endpoint)["token"] == theirs.holder.token  # type: ignore[index]
    theirs.release(lines.append)
    assert stored(endpoint) is None


def test_refresh_rewrites_the_lock_so_a_reader_of_the_old_one_cannot_take_it(
    endpoint: str,
) -> None:
    lock = deploy_lock.acquire(
        machine(endpoint), BUCKET, KEY, wait_seconds=0, stale_after=FRESH, log=print
    )
    seen = lock.etag
    lock.refresh()
    assert lock.etag != seen
    body = stored(endpoint)
    assert body is not None and body["refreshed"] and body["token"] == lock.holder.token
    assert (
        deploy_lock.take_over(machine(endpoint), BUCKET, KEY, deploy_lock.Holder.here(), seen)
        is None
    )
    assert stored(endpoint)["etag"] == lock.etag  # type: ignore[index]
    lines: list[str] = []
    lock.release(lines.append)
    assert stored(endpoint) is None and lines == []


def test_a_lost_answer_to_our_own_write_still_gives_us_the_lock(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # S3 wrote the lock, the answer was lost, botocore's retry meets our own lock (412):
    # the token says it is ours, so we hold it rather than wait for ourselves.
    no_backoff(monkeypatch)
    s3 = machine(endpoint)
    injector = FaultInjector().add("PutObject", "lost-response").attach(s3)
    lock = deploy_lock.acquire(s3, BUCKET, KEY, wait_seconds=0, stale_after=FRESH, log=print)
    assert injector.count("PutObject") == 1 and injector.seen["PutObject"] == 2
    assert stored(endpoint)["token"] == lock.holder.token  # type: ignore[index]
    lock.release(print)
    assert stored(endpoint) is None


def test_no_bucket_is_one_line_naming_it(server: MotoServer) -> None:
    server.reset()
    with pytest.raises(LayerError, match="bucket lock-bucket does not exist"):
        deploy_lock.acquire(
            machine(server.url), BUCKET, KEY, wait_seconds=0, stale_after=FRESH, log=print
        )


def test_unlock_task_removes_the_lock_and_names_its_holder(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI_JOB_ID", "31337")
    project = make_project(tmp_path / "p", tmp_path, "alpha==1.0")
    s3 = client(endpoint, "s3")
    s3.create_bucket(Bucket="test-layer-bucket")
    key = deploy_lock.lock_key("layers", "test-layer")
    env = {"AWS_ENDPOINT_URL": endpoint}
    none = inv(project, "layer.unlock", env=env)
    assert none.returncode == 0, none.stderr
    assert (
        none.stdout.strip() == f"no deploy lock at s3://test-layer-bucket/{key}: nothing to remove"
    )
    held = deploy_lock.acquire(
        s3, "test-layer-bucket", key, wait_seconds=0, stale_after=FRESH, log=print
    )
    removed = inv(project, "layer.unlock", env=env)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.startswith(
        f"removed the deploy lock s3://test-layer-bucket/{key} held by"
    )
    assert f"pid {held.holder.pid}, CI_JOB_ID=31337" in removed.stdout
    assert deploy_lock.read_lock(s3, "test-layer-bucket", key) is None


def test_a_wrong_clock_on_this_machine_does_not_make_a_lock_stale(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = deploy_lock.acquire(
        machine(endpoint), BUCKET, KEY, wait_seconds=0, stale_after=FRESH, log=print
    )
    # This machine thinks it is two hours later; S3's Date and LastModified decide.
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    monkeypatch.setattr(deploy_lock, "_utc_now", lambda: later)
    state = deploy_lock.read_lock(machine(endpoint), BUCKET, KEY)
    assert state is not None and state.age < dt.timedelta(minutes=1)
    with pytest.raises(LayerError, match="another deploy holds the lock"):
        deploy_lock.acquire(
            machine(endpoint), BUCKET, KEY, wait_seconds=0, stale_after=FRESH, log=print
        )
    assert stored(endpoint)["token"] == held.holder.token  # type: ignore[index]


def test_a_lock_whose_process_on_this_machine_ended_is_taken_over_at_once(
    endpoint: str,
) -> None:
    # A deploy killed mid-way (Ctrl-C twice, OOM, a CI job cancelled) leaves its lock:
    # on the same machine, since the same boot, a holder pid that no longer runs is gone.
    probe = subprocess.Popen(["true"])
    probe.wait()
    dead = dataclasses.replace(deploy_lock.Holder.here(), pid=probe.pid)
    assert deploy_lock.create(machine(endpoint), BUCKET, KEY, dead) is not None
    lines: list[str] = []
    new = deploy_lock.acquire(
        machine(endpoint), BUCKET, KEY, wait_seconds=0, stale_after=FRESH, log=lines.append
    )
    assert len(lines) == 1 and "whose process on this machine has ended" in lines[0]
    assert stored(endpoint)["token"] == new.holder.token
    # Another machine's holder (another boot) is never judged by our process table.
    other = dataclasses.replace(deploy_lock.Holder.here(), pid=probe.pid, boot="another-boot")
    assert not other.gone()
