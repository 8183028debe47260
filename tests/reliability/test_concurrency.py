"""Two deploys of the same layer at once, and the lock that serialises config writes.

Two `inv layer.deploy` subprocesses start together on one project (same config, ARN
file and state folder) against one moto server. Both may publish (neither saw the
other's version when it planned); what must hold: each finishes or fails with one
clear line, no S3 object is ever overwritten (the bucket is versioned here, so an
overwrite would show as a second version of a key), every version published holds the
local zip, and the config and ARN file end pointing at a version that exists.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from support.cli import INV, copy_project, stray_files
from support.faults import MotoServer, client

# `once`: two `inv` processes at once; which one waits is decided by S3's conditional
# writes and the state folder's lock, not by the Python running pytest.
pytestmark = pytest.mark.once


def start(project: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*INV, *args],
        cwd=project,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


@pytest.mark.slow
@pytest.mark.parametrize("bucket", ["absent", "versioned"])
def test_two_deploys_at_once_never_overwrite_and_end_on_an_existing_version(
    bucket: str,
    small_project: Path,
    server: MotoServer,
    tmp_path: Path,
) -> None:
    server.reset()
    s3 = client(server.url, "s3")
    if bucket == "versioned":
        s3.create_bucket(Bucket="test-layer-bucket")
        s3.put_bucket_versioning(
            Bucket="test-layer-bucket", VersioningConfiguration={"Status": "Enabled"}
        )
    project = copy_project(small_project, tmp_path / "project")
    env = {"AWS_ENDPOINT_URL": server.url}

    procs = [start(project, env, "layer.deploy") for _ in range(2)]
    results = [finish(p) for p in procs]

    for code, _out, err in results:
        assert "Traceback" not in err, err
        if code != 0:
            errors = [line for line in err.splitlines() if line.startswith("error:")]
            assert code == 1 and len(errors) == 1, err
    assert any(code == 0 for code, _, _ in results), results
    print(f"\nconcurrent[{bucket}]: exit codes {[r[0] for r in results]}")
    lam = client(server.url, "lambda")
    versions = lam.list_layer_versions(LayerName="test-layer")["LayerVersions"]
    # The deploy lock: exactly one publishes; the other waited, planned again and found
    # the layer unchanged (or, past its wait, failed naming the holder).
    assert len(versions) == 1
    assert any(
        "unchanged, version 1" in err or "another deploy holds the lock" in err
        for _code, _out, err in results
    ), results
    print(f"concurrent[{bucket}]: {len(versions)} version(s) published")
    manifest = json.loads((project / "dist" / "test-layer.manifest.json").read_text())
    for v in versions:
        detail = lam.get_layer_version(LayerName="test-layer", VersionNumber=v["Version"])
        assert detail["Content"]["CodeSha256"] == manifest["code_sha256"]
    arns = {v["LayerVersionArn"] for v in versions}
    config = json.loads((project / ".chalice" / "config.json").read_text())
    (layer,) = config["stages"]["prod"]["layers"]
    assert layer in arns
    assert (project / ".layer-arn.txt").read_text().strip() in arns
    assert (project / ".state" / "config.lock").exists()
    assert stray_files(project) == []
    if bucket == "versioned":
        listed = s3.list_object_versions(Bucket="test-layer-bucket").get("Versions", [])
        # One version per key: nothing overwritten (the lock object is written and
        # deleted by every deploy, so it has versions of its own).
        keys = [item["Key"] for item in listed if not item["Key"].endswith("/deploy.lock")]
        assert len(keys) == len(set(keys)), keys
        assert len([k for k in keys if k.endswith(".zip")]) == len(versions)


def test_config_writes_wait_for_the_lock_in_the_state_folder(
    small_project: Path, tmp_path: Path
) -> None:
    project = copy_project(small_project, tmp_path / "project")
    state = project / ".state"
    state.mkdir(exist_ok=True)
    arn = "arn:aws:lambda:us-east-1:123456789012:layer:test-layer:4"
    before = (project / ".chalice" / "config.json").read_bytes()
    fd = os.open(state / "config.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        proc = start(
            project, {"INVOKE_LAYER_REGION": "us-east-1"}, "layer.update-config", f"--arn={arn}"
        )
        time.sleep(2.5)  # far longer than the edit takes once it may run
        assert proc.poll() is None  # still waiting for the lock
        assert (project / ".chalice" / "config.json").read_bytes() == before
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    code, _out, err = finish(proc)
    assert code == 0, err
    assert json.loads((project / ".chalice" / "config.json").read_text())["stages"]["prod"][
        "layers"
    ] == [arn]
    shutil.rmtree(state)
