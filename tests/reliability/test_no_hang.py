"""No silent hang: an endpoint or an index that accepts connections and never answers.

The endpoint is `support.silent.SilentServer` (a listening socket on 127.0.0.1 that
never reads or answers, and stops itself). Each task must end with one ``error:`` line
that names the endpoint and the setting to change, within the bound its settings give.
``inv`` starts in a fresh interpreter (about 1 s here), which the deadline does not count:
it runs from the first AWS request.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.cli import inv
from support.silent import SilentServer

# `once`: each case waits out real timeouts against a silent socket, in an `inv` process;
# botocore's and uv's timeouts do not change with the Python that starts them.
pytestmark = pytest.mark.once

SHORT = {
    "INVOKE_LAYER_CONNECT_TIMEOUT": "1",
    "INVOKE_LAYER_READ_TIMEOUT": "2",
    "INVOKE_LAYER_UPLOAD_READ_TIMEOUT": "2",
}
START_SLACK = 3.0  # starting the interpreter, invoke, boto3 on a shared 2-core machine


def run(project: Path, *args: str, env: dict[str, str]) -> tuple[float, str, int]:
    start = time.monotonic()
    proc = inv(project, *args, env=env)
    elapsed = time.monotonic() - start
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(errors) == 1, proc.stderr
    return elapsed, errors[0], proc.returncode


def test_silent_endpoint_ends_within_the_deadline(project: Path) -> None:
    # 9 s: room for a 3 s attempt, a back-off (< 1 s) and a second attempt; a third (3 s
    # after a back-off of up to 2 s) could end after the deadline, so it is not started.
    deadline = 0.15
    with SilentServer(lifetime=60) as silent:
        elapsed, error, code = run(
            project,
            "layer.versions",
            env={
                **SHORT,
                "AWS_ENDPOINT_URL": silent.url,
                "INVOKE_LAYER_MAX_ATTEMPTS": "10",
                "INVOKE_LAYER_DEADLINE_MINUTES": str(deadline),
            },
        )
        accepted = silent.accepted
    print(f"\nsilent endpoint, deadline {deadline * 60:g} s: failed after {elapsed:.1f} s")
    assert code == 1
    assert accepted == 2
    assert elapsed < deadline * 60 + START_SLACK
    assert silent.url in error and "layer.deadline_minutes" in error, error
    assert "ListLayerVersions" in error


def test_silent_endpoint_ends_after_max_attempts_read_timeouts(project: Path) -> None:
    with SilentServer(lifetime=60) as silent:
        elapsed, error, code = run(
            project,
            "layer.versions",
            env={**SHORT, "AWS_ENDPOINT_URL": silent.url, "INVOKE_LAYER_MAX_ATTEMPTS": "3"},
        )
        accepted = silent.accepted
    print(f"\nsilent endpoint, 3 attempts x 2 s read timeout: failed after {elapsed:.1f} s")
    assert code == 1
    assert accepted == 3  # one connection per attempt, no more
    # 3 reads of 2 s and two back-offs of botocore's standard mode (at most 1 s and 2 s)
    assert elapsed < 3 * 2 + 1 + 2 + START_SLACK
    assert (
        f"ListLayerVersions to {silent.url} got no answer within layer.read_timeout (2 s) "
        "in 3 attempt(s)"
    ) in error, error


def test_silent_index_ends_within_the_index_timeout(project: Path) -> None:
    with SilentServer(lifetime=60) as silent:
        (project / "requirements-all.txt").write_text(
            f"--index-url {silent.url}/simple\nalpha==1.0\n", encoding="utf-8"
        )
        elapsed, error, code = run(
            project,
            "layer.build",
            env={"INVOKE_LAYER_INDEX_TIMEOUT": "2", "INVOKE_LAYER_INDEX_RETRIES": "1"},
        )
        accepted = silent.accepted
    print(f"\nsilent index, 2 s timeout, 1 retry: failed after {elapsed:.1f} s")
    assert code == 1
    assert accepted >= 2  # the first request and its retry
    assert elapsed < 2 * 2 + 3 + START_SLACK  # two 2 s waits and uv's back-off (< 3 s)
    assert f"the package index {silent.url}/simple/alpha/ did not answer" in error, error
    assert "layer.index_timeout (2 s, layer.index_retries: 1)" in error
    assert not (project / "dist" / "test-layer.zip").exists()
