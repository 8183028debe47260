"""Secure defaults, proven on what a real deploy leaves behind.

Already covered elsewhere (not repeated): a new bucket's public access block (all four),
default encryption and TLS-only policy (tests/aws/test_s3_bucket.py), the upload's
SHA-256 checksum on the S3 object (tests/aws/test_s3_upload.py), no layer permission
unless ``share_with`` says so (tests/aws/test_deploy_pipeline.py), symlinks out of the
tree refused and modes normalised (tests/unit/test_archive.py).

Here: the TLS-only policy step under injected faults (https path, in-process moto),
checksums on every object a whole deploy writes, no credential value in anything a
deploy prints or writes (also with ``inv --debug``), and the entries of a real built
layer zip.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest
from moto import mock_aws
from support.cli import INV, copy_project
from support.fakes import make_settings, sha256_b64, write_layer
from support.faults import KINDS, FaultInjector, MotoServer, client, no_backoff

from layer_tasks.aws import s3 as s3mod
from layer_tasks.aws.session import make_clients
from layer_tasks.build.archive import write_layer_zip
from layer_tasks.deploy import run as dep

SECRET = "SECRETKEYabcdef0123456789ZYXWVUtsrqponm"
TOKEN = "SESSIONTOKEN" + "q1w2e3r4t5y6" * 12


@pytest.mark.parametrize("kind", list(KINDS))
def test_tls_only_policy_step_survives_a_fault(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PutBucketPolicy (https endpoints only) is retried like every other call."""
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_LAMBDA"):
        monkeypatch.delenv(var, raising=False)
    no_backoff(monkeypatch)
    settings = make_settings(tmp_path)
    with mock_aws():
        clients = make_clients(settings)
        assert not clients.plain_http
        injector = FaultInjector().add("PutBucketPolicy", kind).attach(clients.s3)
        s3mod.create_bucket(clients.s3, settings.bucket, settings.region)
        assert injector.count("PutBucketPolicy") == 1
        policy = json.loads(clients.s3.get_bucket_policy(Bucket=settings.bucket)["Policy"])
        (statement,) = policy["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_every_object_a_deploy_writes_carries_a_sha256_checksum(
    tmp_path: Path, server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.reset()
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings = make_settings(tmp_path)
    write_layer(settings)
    dep.deploy(
        settings, make_clients(settings, endpoint_url=server.url), build=False, log=lambda _l: None
    )
    s3 = client(server.url, "s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=settings.bucket)["Contents"]]
    assert len(keys) == 2  # the zip and its manifest
    for key in keys:
        head = s3.head_object(Bucket=settings.bucket, Key=key, ChecksumMode="ENABLED")
        assert head.get("ChecksumSHA256"), key
        assert head["ServerSideEncryption"] == "AES256"
        if key.endswith(".zip"):
            assert head["ChecksumSHA256"] == sha256_b64(settings.zip_path.read_bytes())


@pytest.mark.slow
def test_no_credential_value_in_any_output_or_file(
    small_project: Path,
    server: MotoServer,
    tmp_path: Path,
) -> None:
    server.reset()
    project = copy_project(small_project, tmp_path / "project")
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": server.url,
        "AWS_ACCESS_KEY_ID": "AKIAFAKEACCESSKEY123",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": TOKEN,
    }
    runs = [
        ["layer.deploy"],
        ["layer.deploy"],  # the unchanged path
        ["-d", "layer.deploy", "--force"],  # invoke's debug logging on (root logger DEBUG)
        ["layer.versions", "--json"],
        ["layer.deploy", "--dry-run"],
        ["layer.rollback", "--version", "99"],  # an error path
    ]
    seen = []
    for argv in runs:
        proc = subprocess.run(
            [*INV, *argv], cwd=project, env=env, capture_output=True, text=True, timeout=300
        )
        seen.append(proc.stdout + proc.stderr)
    assert "arn:aws:lambda" in seen[0]  # the runs did something
    for text in seen:
        assert SECRET not in text
        assert TOKEN not in text and TOKEN[:24] not in text
    for path in project.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data and TOKEN.encode() not in data, path


def test_entries_of_a_built_layer_are_safe(small_project: Path) -> None:
    with zipfile.ZipFile(small_project / "dist" / "test-layer.zip") as zf:
        infos = zf.infolist()
    assert infos
    for info in infos:
        name = info.filename
        assert not name.startswith("/") and "\\" not in name
        assert ".." not in name.split("/")
        assert name.startswith("python/")
        mode = info.external_attr >> 16
        assert mode in (stat.S_IFREG | 0o644, stat.S_IFREG | 0o755), (name, oct(mode))
        assert not stat.S_ISLNK(mode)


def test_odd_names_and_inside_links_stay_inside_the_archive(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "a..b.py").write_text("A = 1\n")
    (tree / "pkg" / "..hidden").write_text("x\n")
    (tree / "pkg" / "run.sh").write_text("#!/bin/sh\n")
    (tree / "pkg" / "run.sh").chmod(0o4777)  # setuid + world-writable: normalised away
    (tree / "pkg" / "link.py").symlink_to("a..b.py")
    result = write_layer_zip(tree, tmp_path / "out.zip", workers=1)
    with zipfile.ZipFile(result.path) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        assert zf.read("python/pkg/link.py") == b"A = 1\n"  # stored as content, not a link
    assert set(infos) == {
        "python/pkg/a..b.py",
        "python/pkg/..hidden",
        "python/pkg/run.sh",
        "python/pkg/link.py",
    }
    for name, info in infos.items():
        assert ".." not in name.split("/")
        assert info.external_attr >> 16 in (stat.S_IFREG | 0o644, stat.S_IFREG | 0o755)
    assert infos["python/pkg/run.sh"].external_attr >> 16 == stat.S_IFREG | 0o755
    # Extracting cannot write outside the target folder.
    out = tmp_path / "extract"
    with zipfile.ZipFile(result.path) as zf:
        zf.extractall(out)
    assert all(p.resolve().is_relative_to(out.resolve()) for p in out.rglob("*"))
