"""A request that AWS carried out but whose answer was lost (the connection dropped after
the server acted), so botocore's retry sends it a second time.

This is the hard half of "a dropped connection": the retry is not a no-op. What each
step does about it is pinned here (docs/reliability.md explains the outcomes).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.fakes import make_settings, write_layer
from support.faults import FaultInjector, client, no_backoff

from layer_tasks.aws.session import make_clients
from layer_tasks.deploy import model
from layer_tasks.deploy import run as dep
from layer_tasks.deploy.plan import Upload
from layer_tasks.model.manifest import Manifest


@pytest.fixture
def endpoint(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The emptied moto server (conftest's ``endpoint``); botocore retries without sleeping."""
    no_backoff(monkeypatch)
    return endpoint


def _deploy(
    tmp_path: Path, endpoint: str, operation: str, region: str = "us-east-1", where: str = ""
) -> tuple[model.Outcome, FaultInjector, list[str]]:
    settings = make_settings(tmp_path, region=region)
    write_layer(settings)
    clients = make_clients(settings, endpoint_url=endpoint)
    injector = (
        FaultInjector()
        .add(operation, "lost-response", where=where)
        .attach(clients.s3, clients.uploads, clients.lambda_)
    )
    lines: list[str] = []
    return dep.deploy(settings, clients, build=False, log=lines.append), injector, lines


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_create_bucket_answer_lost_still_gives_a_private_encrypted_bucket(
    tmp_path: Path, endpoint: str, region: str
) -> None:
    # The retried CreateBucket finds the bucket (BucketAlreadyOwnedByYou outside
    # us-east-1, 200 in us-east-1): the private settings must still be applied.
    _, injector, _ = _deploy(tmp_path, endpoint, "CreateBucket", region)
    assert injector.count("CreateBucket") == 1
    s3 = client(endpoint, "s3", region)
    block = s3.get_public_access_block(Bucket="demo-layer-bucket")
    assert all(block["PublicAccessBlockConfiguration"].values())
    assert s3.get_bucket_encryption(Bucket="demo-layer-bucket")["ServerSideEncryptionConfiguration"]


def test_put_object_answer_lost_never_overwrites_and_publishes_once(
    tmp_path: Path, endpoint: str
) -> None:
    # The retried PutObject meets IfNoneMatch's 412: its own first write. The upload then
    # finds our bytes at the planned key and uses them: one object, nothing overwritten,
    # nothing uploaded twice, one version published from exactly the planned key.
    # The zip's PutObject (the deploy's first PutObject is its lock's).
    outcome, injector, lines = _deploy(tmp_path, endpoint, "PutObject", where=".zip")
    assert injector.count("PutObject") == 1
    planned = next(s for s in outcome.plan.steps if isinstance(s, Upload)).key
    assert any(
        line
        == f"s3://demo-layer-bucket/{planned} already holds this zip (an earlier attempt whose answer was lost)"
        for line in lines
    ), lines
    keys = [
        o["Key"]
        for o in client(endpoint, "s3").list_objects_v2(Bucket="demo-layer-bucket")["Contents"]
    ]
    assert [k for k in keys if k.endswith(".zip")] == [planned]
    lam = client(endpoint, "lambda")
    listed = lam.list_layer_versions(LayerName="demo-layer")["LayerVersions"]
    assert len(listed) == 1
    detail = lam.get_layer_version(LayerName="demo-layer", VersionNumber=1)
    built = Manifest.load(make_settings(tmp_path).manifest_path)
    assert detail["Content"]["CodeSha256"] == built.code_sha256
    assert outcome.published


def test_publish_answer_lost_is_adopted_not_duplicated(tmp_path: Path, endpoint: str) -> None:
    # PublishLayerVersion is not idempotent: a blind retry would publish a second version.
    # The deploy does not retry it blindly; it finds the version the lost request made
    # (same CodeSha256, runtimes, architectures, description), adopts it and says so.
    outcome, injector, lines = _deploy(tmp_path, endpoint, "PublishLayerVersion")
    assert injector.count("PublishLayerVersion") == 1
    lam = client(endpoint, "lambda")
    listed = lam.list_layer_versions(LayerName="demo-layer")["LayerVersions"]
    assert len(listed) == 1
    assert outcome.arn == listed[0]["LayerVersionArn"]
    assert any("adopted version 1" in line for line in lines), lines
    assert "publish: version 1 (adopted)" in lines
    settings = make_settings(tmp_path)
    assert settings.arn_file.read_text() == f"{outcome.arn}\n"
    again = dep.deploy(
        settings, make_clients(settings, endpoint_url=endpoint), build=False, log=lambda _l: None
    )
    assert not again.published
    assert len(lam.list_layer_versions(LayerName="demo-layer")["LayerVersions"]) == 1
    config = json.loads(settings.chalice_config.read_text())
    assert config["stages"]["prod"]["layers"] == [again.arn]
