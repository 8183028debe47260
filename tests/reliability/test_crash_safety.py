"""SIGKILL `inv layer.deploy` at each step boundary, then deploy again.

The deploy runs in a subprocess against a moto server (``AWS_ENDPOINT_URL``), on a
project whose layer is already built (its ``dist/`` is copied from one build, so no
install runs). The kill comes from the test's side only: a ``sitecustomize.py`` on the
subprocess's ``PYTHONPATH`` registers a botocore handler on the step's
``before-call``/``after-call`` event, or wraps ``os.replace``/``os.fsync`` for the file
writes, that sends SIGKILL to its own process.

After each kill: the Chalice config parses and is the old or the new one, the ARN file
holds the old or the new ARN, and the only temporary file in the project is the one a
killed atomic write was holding. The next deploy (an ordinary one, so run in the
test's own process) completes, leaves no temporary file, and converges on exactly one
published version (a publish that happened before the kill is recognised by its
CodeSha256 and not repeated).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.cli import (
    CHALICE_CONFIG,
    copy_project,
    inv,
    inv_here,
    make_project,
    stray_files,
)
from support.faults import MotoServer, client
from support.wheels import make_wheel

# `once`: a real `inv` process killed at each step; the order of the writes it checks is
# the same on every Python (each step's own code runs on every Python in tests/aws).
pytestmark = pytest.mark.once

ARN = "arn:aws:lambda:us-east-1:123456789012:layer:test-layer:1"

SITECUSTOMIZE = """
import os
import signal

_point = os.environ.get("LAYER_KILL_AT", "")


def _die(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


_EVENTS = {
    "after-create-bucket": "after-call.s3.CreateBucket",
    "after-bucket": "after-call.s3.PutBucketEncryption",
    "after-lifecycle": "after-call.s3.PutBucketLifecycleConfiguration",
    "mid-upload": "before-send.s3.PutObject",
    "mid-multipart-upload": "after-call.s3.UploadPart",
    "after-upload": "before-call.lambda.PublishLayerVersion",
    "after-publish": "after-call.lambda.PublishLayerVersion",
}
if _point in _EVENTS:
    from botocore import handlers

    handlers.BUILTIN_HANDLERS.append((_EVENTS[_point], _die))
elif _point == "after-arn-file":
    _replace = os.replace

    def _replace_then_die(src, dst, *args, **kwargs):
        _replace(src, dst, *args, **kwargs)
        if str(dst).endswith(".layer-arn.txt"):
            _die()

    os.replace = _replace_then_die
elif _point == "mid-config-write":
    _fsync = os.fsync

    def _fsync_then_die(fd):
        _fsync(fd)
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        # The config's temporary file is complete and synced (the backup is written),
        # the rename has not happened.
        if name.startswith(".config.json.") and not name.startswith(".config.json.bak."):
            _die()

    os.fsync = _fsync_then_die
"""

# kill point -> (the publish happened before the kill, temp files a kill may leave)
POINTS = {
    "after-create-bucket": (False, ()),
    "after-bucket": (False, ()),
    "after-lifecycle": (False, ()),
    "mid-upload": (False, ()),
    "after-upload": (False, ()),
    "after-publish": (True, ()),
    "after-arn-file": (True, ()),
    "mid-config-write": (True, (".chalice/.config.json.",)),
}


@pytest.fixture(scope="module")
def hook_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hook")
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def built_big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A layer above the 16 MiB multipart threshold (one wheel of random bytes)."""
    house = tmp_path_factory.mktemp("bighouse")
    make_wheel(
        house, "bulky", "1.0", {"bulky/__init__.py": "", "bulky/blob.bin": os.urandom(17 << 20)}
    )
    project = make_project(tmp_path_factory.mktemp("bigbuilt") / "p", house, "bulky==1.0")
    proc = inv(project, "layer.build", env={"INVOKE_LAYER_COMPRESSION_LEVEL": "1"})
    assert proc.returncode == 0, proc.stderr
    return project


def check_outputs(project: Path) -> tuple[str | None, list[str]]:
    """The ARN file and the config's layers, which must each be the old or the new."""
    config = json.loads((project / ".chalice" / "config.json").read_text())  # parses
    layers = config["stages"]["prod"]["layers"]
    assert layers in ([], [ARN])
    arn_file = project / ".layer-arn.txt"
    arn = arn_file.read_text().strip() if arn_file.exists() else None
    assert arn in (None, ARN)
    other = dict(config)
    other["stages"] = {k: v for k, v in config["stages"].items() if k != "prod"}
    old = json.loads(CHALICE_CONFIG)
    old["stages"] = {k: v for k, v in old["stages"].items() if k != "prod"}
    assert other == old  # nothing else in the config moved
    return arn, layers


def published(endpoint: str) -> list[dict[str, object]]:
    return list(
        client(endpoint, "lambda").list_layer_versions(LayerName="test-layer")["LayerVersions"]
    )


@pytest.mark.slow
@pytest.mark.parametrize("point", [*POINTS, "mid-multipart-upload"])
def test_kill_at_each_step_then_deploy_again_converges(
    point: str,
    small_project: Path,
    built_big: Path,
    hook_dir: Path,
    server: MotoServer,
    tmp_path: Path,
) -> None:
    server.reset()
    source = built_big if point == "mid-multipart-upload" else small_project
    project = copy_project(source, tmp_path / "project")
    env = {"AWS_ENDPOINT_URL": server.url, "PYTHONPATH": str(hook_dir)}

    killed = inv(project, "layer.deploy", env={**env, "LAYER_KILL_AT": point})

    assert killed.returncode == -9, killed.stderr
    publish_done, may_leave = POINTS.get(point, (False, ()))
    check_outputs(project)
    leftovers = stray_files(project)
    assert all(any(f.startswith(p) for p in may_leave) for f in leftovers), leftovers
    assert len(published(server.url)) == (1 if publish_done else 0)
    s3 = client(server.url, "s3")
    if point == "mid-multipart-upload":
        # SIGKILL leaves no chance to abort: the lifecycle rule (set before the upload)
        # aborts it after a day.
        (upload,) = s3.list_multipart_uploads(Bucket="test-layer-bucket")["Uploads"]
        rules = s3.get_bucket_lifecycle_configuration(Bucket="test-layer-bucket")["Rules"]
        covering = [r for r in rules if upload["Key"].startswith(r["Filter"]["Prefix"])]
        assert (
            covering and covering[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
        )

    # The deploy after the crash is an ordinary one: in this process (no hook to load).
    again = inv_here(project, "layer.deploy", env={"AWS_ENDPOINT_URL": server.url})

    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == ARN
    assert len(published(server.url)) == 1  # never a duplicate version
    if publish_done:
        assert "unchanged, version 1" in again.stderr
    assert check_outputs(project) == (ARN, [ARN])
    assert stray_files(project) == []
    if point == "after-create-bucket":
        # The kill came before the private settings: the next deploy says what is
        # missing (it never changes an existing bucket's settings on its own).
        assert "differs from the defaults: no public access block" in again.stderr
