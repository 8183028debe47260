"""Nothing changes until every input is checked (issue: deploy published, then failed).

Each input below used to publish a new version (and some rewrote the ARN file) before
failing. Now each fails in pre-flight, and the test checks all four promises: no new
version, no new S3 object, the bucket's settings as they were, every local file
byte-identical. Every S3 request a deploy sends names the expected bucket owner.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cli import copy_project, inv, inv_here
from support.faults import MotoServer, client
from support.snapshot import aws_state, project_files

BUCKET = "test-layer-bucket"


def bucket_settings(endpoint: str) -> dict[str, Any]:
    """What a deploy could change on the bucket: lifecycle rules, encryption, access."""
    s3 = client(endpoint, "s3")
    out: dict[str, Any] = {}
    for name, read in (
        ("lifecycle", s3.get_bucket_lifecycle_configuration),
        ("encryption", s3.get_bucket_encryption),
        ("public_access", s3.get_public_access_block),
    ):
        try:
            answer = read(Bucket=BUCKET)
        except s3.exceptions.ClientError as exc:
            answer = exc.response["Error"]["Code"]
        if isinstance(answer, dict):
            answer.pop("ResponseMetadata", None)
        out[name] = answer
    return out


def _config_read_only(project: Path) -> dict[str, str]:
    config = project / ".chalice" / "config.json"
    config.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return {}


def _arn_file_folder_missing(project: Path) -> dict[str, str]:
    return {"INVOKE_LAYER_ARN_FILE": str(project / "no-such-folder" / "arn.txt")}


def _share_with_malformed(project: Path) -> dict[str, str]:
    config = project / "invoke.yaml"
    config.write_text(config.read_text() + '  share_with: ["12345"]\n')
    return {}


def _no_such_function(project: Path) -> dict[str, str]:
    return {"INVOKE_LAYER_FUNCTION": "no-such-function"}


def _bucket_in_another_region(project: Path) -> dict[str, str]:
    return {"INVOKE_LAYER_BUCKET": "elsewhere-bucket"}


# (id, how the input is made, what the one error line says)
CASES: list[tuple[str, Callable[[Path], dict[str, str]], str]] = [
    ("function-missing", _no_such_function, r"function 'no-such-function' not found"),
    ("config-read-only", _config_read_only, r"Chalice config .* is read-only"),
    (
        "arn-file-folder-missing",
        _arn_file_folder_missing,
        r"folder .*no-such-folder does not exist",
    ),
    ("share-with-malformed", _share_with_malformed, r"share_with entry '12345' is not a 12-digit"),
    (
        "bucket-other-region",
        _bucket_in_another_region,
        r"bucket 'elsewhere-bucket' is in eu-west-1",
    ),
]


@pytest.mark.parametrize(("case", "make", "expect"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_input_changes_nothing_at_all(
    case: str,
    make: Callable[[Path], dict[str, str]],
    expect: str,
    small_project: Path,
    tmp_path: Path,
    server: MotoServer,
) -> None:
    server.reset()
    project = copy_project(small_project, tmp_path / "project")
    env = {"AWS_ENDPOINT_URL": server.url}
    # A first deploy: a published version, an ARN file, a bucket with its lifecycle rule.
    first = inv_here(project, "layer.deploy", env=env)
    assert first.returncode == 0, first.stderr
    client(server.url, "s3", "eu-west-1").create_bucket(
        Bucket="elsewhere-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    env.update(make(project))
    files, state = project_files(project), aws_state(server.url, "test-layer")
    bucket = bucket_settings(server.url)

    proc = inv_here(project, "layer.deploy", "--force", env=env)

    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 1, proc.stderr
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert re.search(expect, errors[0]), errors[0]
    assert aws_state(server.url, "test-layer") == state  # no version, no object, no bucket
    assert bucket_settings(server.url) == bucket
    assert project_files(project) == files


def test_every_s3_request_names_the_expected_bucket_owner(
    small_project: Path, tmp_path: Path, server: MotoServer
) -> None:
    server.reset()
    project = copy_project(small_project, tmp_path / "project")
    hook = tmp_path / "hook"
    hook.mkdir()
    log = tmp_path / "s3-requests.jsonl"
    # Records every S3 request as sent (after all handlers ran), in the deploy's process.
    (hook / "sitecustomize.py").write_text(
        "import json, os\n"
        "from botocore import handlers\n"
        "def _record(request, **kw):\n"
        "    owner = request.headers.get('x-amz-expected-bucket-owner', '')\n"
        "    owner = owner.decode() if isinstance(owner, bytes) else owner\n"
        "    with open(os.environ['S3_REQUEST_LOG'], 'a') as fh:\n"
        "        fh.write(json.dumps({'url': request.url, 'method': request.method,\n"
        "            'owner': owner}) + '\\n')\n"
        "handlers.BUILTIN_HANDLERS.append(('before-send.s3', _record))\n"
    )
    env = {
        "AWS_ENDPOINT_URL": server.url,
        "PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]),
        "S3_REQUEST_LOG": str(log),
    }
    proc = inv(project, "layer.deploy", env=env)
    assert proc.returncode == 0, proc.stderr
    sent = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(sent) >= 8, sent  # bucket, settings, lock, lifecycle, upload, manifest...
    # CreateBucket (PUT on the bucket itself) takes no owner; every other request names it.
    create = [r for r in sent if r["method"] == "PUT" and r["url"].rstrip("/").endswith(BUCKET)]
    assert len(create) == 1
    others = [r for r in sent if r not in create]
    assert {r["owner"] for r in others} == {"123456789012"}, others
