"""layer.diff on published versions: manifests found in S3 by CodeSha256 (moto), a
version without a stored manifest, deploy's diff, and the task as a user runs it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from support.cli import inv_here
from support.fakes import make_settings, write_layer
from support.faults import MotoServer, client

from layer_tasks.aws import lambda_, s3
from layer_tasks.aws.manifests import find_manifest, nearest_first
from layer_tasks.aws.session import Clients
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.model.manifest import Distribution, Manifest
from layer_tasks.report.compare import ManifestMissing, Side, deploy_diff, resolve

T1 = dt.datetime(2026, 11, 1, 10, 0, 0, tzinfo=dt.timezone.utc)
T2 = dt.datetime(2026, 11, 2, 10, 0, 0, tzinfo=dt.timezone.utc)
OLD_DISTS = (Distribution("numpy", "1.26.4", 70_000, 10), Distribution("six", "1.16.0", 500, 2))
NEW_DISTS = (Distribution("numpy", "2.1.3", 75_000, 11), Distribution("idna", "3.10", 900, 3))


@pytest.fixture
def settings(tmp_path: Path) -> LayerSettings:
    return make_settings(tmp_path)


def _publish(
    settings: LayerSettings,
    clients: Clients,
    payload: str,
    dists: tuple[Distribution, ...],
    when: dt.datetime,
) -> tuple[Manifest, lambda_.LayerVersion, str]:
    """Build-like files, then the real upload (zip + manifest) and publish."""
    manifest = write_layer(settings, payload, distributions=dists, pruned={"tests": len(payload)})
    if not s3.inspect_bucket(clients.s3, settings.bucket, clients.region, plain_http=True).exists:
        s3.create_bucket(clients.s3, settings.bucket, clients.region, plain_http=True)
    key = s3.free_key(clients.s3, settings.bucket, settings.prefix, settings.name, when)
    up = s3.upload_layer(
        clients.s3, settings.bucket, key, settings.zip_path, manifest, log=lambda _m: None
    )
    params = lambda_.publish_params(manifest, name=settings.name, bucket=up.bucket, key=up.key)
    version = lambda_.publish(clients.lambda_, params)
    return manifest, version, up.manifest_key


def test_two_published_versions_are_found_by_code_sha256_and_compared(
    settings: LayerSettings, clients: Clients
) -> None:
    m1, v1, _ = _publish(settings, clients, "VALUE = 1\n", OLD_DISTS, T1)
    m2, v2, _ = _publish(settings, clients, "VALUE = 22\n", NEW_DISTS, T2)
    assert (v1.version, v2.version) == (1, 2)

    old = resolve(Side("version", version=1), settings, clients)
    new = resolve(Side("version", version=2), settings, clients)
    assert (old.label, new.label) == ("version 1", "version 2")
    assert old.manifest["code_sha256"] == m1.code_sha256 == v1.code_sha256
    assert new.manifest["code_sha256"] == m2.code_sha256
    latest = resolve(Side("latest"), settings, clients)
    assert latest.label == "version 2"

    from layer_tasks.report.diff import diff_manifests

    d = diff_manifests(old.manifest, new.manifest, old_label=old.label, new_label=new.label)
    assert [(c.kind, c.name) for c in d.changes] == [
        ("added", "idna"),
        ("removed", "six"),
        ("upgraded", "numpy"),
    ]
    assert d.totals["zip_bytes"].delta == m2.zip_bytes - m1.zip_bytes


def test_a_version_without_a_stored_manifest(settings: LayerSettings, clients: Clients) -> None:
    _publish(settings, clients, "VALUE = 1\n", OLD_DISTS, T1)
    _, _, key2 = _publish(settings, clients, "VALUE = 22\n", NEW_DISTS, T2)
    # As the lifecycle rule (or another tool) leaves it: version 2's manifest is gone.
    clients.s3.delete_object(Bucket=settings.bucket, Key=key2)
    with pytest.raises(
        ManifestMissing, match=r"version 2 of layer demo-layer .* no stored manifest"
    ):
        resolve(Side("version", version=2), settings, clients)
    # The other version is still found, although its manifest is no longer the newest.
    assert resolve(Side("version", version=1), settings, clients).label == "version 1"
    with pytest.raises(LayerError, match="has no version 9"):
        resolve(Side("version", version=9), settings, clients)


def test_nearest_upload_is_read_first() -> None:
    keys = [
        "layers/x/20261101-100000/x.manifest.json",
        "layers/x/20261102-095958/x.manifest.json",
        "layers/x/20261103-100000/x.manifest.json",
        "layers/x/odd/x.manifest.json",
    ]
    ordered = nearest_first(keys, "2026-11-02T10:00:03.000+0000")
    assert ordered[0] == "layers/x/20261102-095958/x.manifest.json"
    assert ordered[-1] == "layers/x/odd/x.manifest.json"
    # Unknown creation time: newest key first.
    assert nearest_first(keys, "")[0] == "layers/x/odd/x.manifest.json"


def test_find_manifest_in_a_missing_bucket_is_none(clients: Clients) -> None:
    assert find_manifest(clients.s3, "no-such-bucket-here", "layers", "x", "abc") is None


def test_deploy_diff(settings: LayerSettings, clients: Clients) -> None:
    lines: list[str] = []
    local = write_layer(settings, "VALUE = 1\n", distributions=OLD_DISTS)
    first = deploy_diff(clients, settings, local, None, log=lines.append)
    assert first is not None and {c.kind for c in first.changes} == {"added"}
    assert first.old_label == "(nothing published)"

    _, v1, key1 = _publish(settings, clients, "VALUE = 1\n", OLD_DISTS, T1)
    local = write_layer(settings, "VALUE = 333\n", distributions=NEW_DISTS)
    d = deploy_diff(clients, settings, local, v1, log=lines.append)
    assert d is not None and d.old_label == "version 1" and d.new_label == "local"
    assert [(c.kind, c.name) for c in d.changes][-1] == ("upgraded", "numpy")
    assert lines == []

    clients.s3.delete_object(Bucket=settings.bucket, Key=key1)
    assert deploy_diff(clients, settings, local, v1, log=lines.append) is None
    assert deploy_diff(clients, settings, None, v1, log=lines.append) is None
    assert len(lines) == 2
    assert "no stored manifest" in lines[0] and "rebuilt first" in lines[1]

    # Unchanged (the latest holds this zip): an empty diff without reading S3, so
    # even a deleted manifest does not matter.
    same = write_layer(settings, "VALUE = 1\n", distributions=OLD_DISTS)
    unchanged = deploy_diff(clients, settings, same, v1, log=lines.append)
    assert unchanged is not None and unchanged.same_zip and unchanged.empty
    assert unchanged.lines()[:2] == ["diff version 1 -> local", "  same zip (identical CodeSha256)"]


# --- the task, as a user runs it, against the session's moto server ------------------


def _server_project(project: Path, server: MotoServer) -> tuple[LayerSettings, Clients]:
    server.reset()
    settings = make_settings(
        project, name="test-layer", bucket="test-layer-bucket", prefix="layers"
    )
    clients = Clients(
        s3=client(server.url, "s3"), lambda_=client(server.url, "lambda"), region="us-east-1"
    )
    return settings, clients


@pytest.mark.slow
def test_diff_task(project: Path, server: MotoServer) -> None:
    settings, clients = _server_project(project, server)
    env = {"AWS_ENDPOINT_URL": server.url}
    _, _, key1 = _publish(settings, clients, "VALUE = 1\n", OLD_DISTS, T1)
    _publish(settings, clients, "VALUE = 22\n", NEW_DISTS, T2)
    write_layer(settings, "VALUE = 4444\n", distributions=NEW_DISTS[:1])  # the local build

    between = inv_here(project, "layer.diff", "--from", "1", "--to", "2", env=env)
    assert between.returncode == 0, between.stderr
    assert between.stdout.splitlines()[0] == "diff version 1 -> version 2"
    assert "upgraded    numpy 1.26.4 -> 2.1.3" in between.stdout

    default = inv_here(project, "layer.diff", "--json", env=env)
    assert default.returncode == 0, default.stderr
    data = json.loads(default.stdout)
    assert (data["from"], data["to"]) == ("version 2", "local")
    assert [c["name"] for c in data["removed"]] == ["idna"]

    manifest_file = project / "dist" / "test-layer.manifest.json"
    offline = inv_here(project, "layer.diff", "--from", str(manifest_file), "--to", "local")
    assert offline.returncode == 0, offline.stderr  # no AWS asked: no endpoint given
    assert "no distribution added, removed or changed" in offline.stdout

    clients.s3.delete_object(Bucket=settings.bucket, Key=key1)
    asked = inv_here(project, "layer.diff", "--from", "1", env=env)
    assert asked.returncode == 1
    assert asked.stderr.strip().splitlines() == [
        asked.stderr.strip().splitlines()[-1]
    ] and asked.stderr.startswith("error: version 1 of layer test-layer")
    assert "Traceback" not in asked.stderr

    clients.s3.delete_object(
        Bucket=settings.bucket, Key=s3.manifest_key(s3.object_key("layers", "test-layer", T2))
    )
    implied = inv_here(project, "layer.diff", env=env)
    assert implied.returncode == 0, implied.stderr
    assert len(implied.stdout.strip().splitlines()) == 1
    assert (
        "version 2 of layer test-layer" in implied.stdout and "nothing to compare" in implied.stdout
    )


def test_diff_task_without_a_build_fails_before_any_aws_call(project: Path) -> None:
    # An endpoint where nothing listens: any AWS call would fail with another message.
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    proc = inv_here(project, "layer.diff", env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"error: no manifest at {project / 'dist' / 'test-layer.manifest.json'}: "
        "run `inv layer.build` first"
    )
    wrong = inv_here(project, "layer.diff", "--from", "v3", env=env)
    assert wrong.returncode == 1
    assert wrong.stderr.startswith("error: 'v3' is not a version number, `latest`, `local`")
