"""A lost PublishLayerVersion answer is adopted, not published twice (moto server).

`lambda_.publish_or_adopt` stops botocore's blind retry of a request that may have
reached Lambda, and looks for the version that request published before trying again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ConnectionClosedError
from support import fakes
from support.fakes import make_settings, write_layer
from support.faults import FaultInjector, MotoServer, client, no_backoff

from layer_tasks.aws import lambda_, s3
from layer_tasks.aws.errors import AnswerLost
from layer_tasks.aws.session import Clients, make_clients
from layer_tasks.model.manifest import Manifest

BUCKET = "demo-layer-bucket"
NAME = "demo-layer"


@dataclasses.dataclass
class Ready:
    clients: Clients
    manifest: Manifest
    key: str
    lines: list[str]

    def publish(self, **kw: Any) -> lambda_.Publication:
        params = lambda_.publish_params(self.manifest, name=NAME, bucket=BUCKET, key=self.key)
        return lambda_.publish_or_adopt(
            self.clients.lambda_, params, self.manifest, log=self.lines.append, **kw
        )


@pytest.fixture
def ready(tmp_path: Path, server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Ready:
    """The zip uploaded to a bucket on the moto server; clients with the real retry config
    (standard mode, 5 attempts), as `make_clients` gives them."""
    server.reset()
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_LAMBDA"):
        monkeypatch.delenv(var, raising=False)
    no_backoff(monkeypatch)
    settings = make_settings(tmp_path)
    manifest = write_layer(settings)
    clients = make_clients(settings, endpoint_url=server.url)
    s3.create_bucket(clients.s3, BUCKET, clients.region, plain_http=True)
    up = fakes.upload(clients, BUCKET, settings, manifest)
    return Ready(clients, manifest, up.key, [])


def versions(endpoint: str) -> list[dict[str, Any]]:
    return list(client(endpoint, "lambda").list_layer_versions(LayerName=NAME)["LayerVersions"])


@pytest.mark.parametrize("times", [1, 5], ids=["once", "every-attempt"])
def test_a_lost_answer_is_adopted_not_published_twice(
    ready: Ready, server: MotoServer, times: int
) -> None:
    injector = FaultInjector().add("PublishLayerVersion", "lost-response", times)
    injector.attach(ready.clients.lambda_)
    result = ready.publish()
    assert result.adopted
    listed = versions(server.url)
    assert len(listed) == 1
    assert result.version.arn == listed[0]["LayerVersionArn"]
    assert result.version.code_sha256 == ready.manifest.code_sha256
    # One request only: botocore did not repeat it blindly.
    assert injector.seen["PublishLayerVersion"] == 1
    assert len(ready.lines) == 1
    assert "answer was lost" in ready.lines[0] and "adopted version 1" in ready.lines[0]


def test_a_request_that_never_arrived_is_published_again(ready: Ready, server: MotoServer) -> None:
    injector = FaultInjector().add("PublishLayerVersion", "dropped", 1)
    injector.attach(ready.clients.lambda_)
    result = ready.publish()
    assert not result.adopted
    assert [v["Version"] for v in versions(server.url)] == [1] == [result.version.version]
    assert injector.seen["PublishLayerVersion"] == 2
    assert ready.lines == [
        "PublishLayerVersion's answer was lost (Connection was closed before we received "
        f'a valid response from endpoint URL: "{server.url}/2018-10-31/layers/{NAME}/'
        'versions".) and no version was published; publishing again (2/5)'
    ]


def test_no_answer_on_any_attempt_fails_after_the_attempts_and_publishes_nothing(
    ready: Ready, server: MotoServer
) -> None:
    injector = FaultInjector().add("PublishLayerVersion", "dropped", 5)
    injector.attach(ready.clients.lambda_)
    with pytest.raises(AnswerLost) as failed:
        ready.publish()
    # The error line names the operation (aws/errors.py; tagged by aws/session.py).
    assert failed.value.operation == "PublishLayerVersion"
    assert isinstance(failed.value.__cause__, ConnectionClosedError)
    assert injector.seen["PublishLayerVersion"] == 5
    assert versions(server.url) == []
    assert len(ready.lines) == 4


def test_a_matching_version_with_another_description_is_not_adopted(
    ready: Ready, server: MotoServer
) -> None:
    # Same zip, runtime and architecture, published by hand with another description:
    # not what our request would have published, so the publish is tried again.
    lam = client(server.url, "lambda")
    lam.publish_layer_version(
        LayerName=NAME,
        Description="published by hand",
        Content={"S3Bucket": BUCKET, "S3Key": ready.key},
        CompatibleRuntimes=[ready.manifest.runtime],
        CompatibleArchitectures=[ready.manifest.architecture],
    )
    FaultInjector().add("PublishLayerVersion", "dropped", 1).attach(ready.clients.lambda_)
    result = ready.publish()
    assert not result.adopted and result.version.version == 2
    assert result.version.description == lambda_.describe(ready.manifest)
    assert len(versions(server.url)) == 2


@pytest.mark.parametrize("differs", ["description", "code", "runtime", "architecture", "older"])
def test_find_adoptable_needs_every_field_to_match(
    ready: Ready, server: MotoServer, tmp_path: Path, differs: str
) -> None:
    lam = client(server.url, "lambda")
    manifest = ready.manifest
    key = ready.key
    if differs == "code":
        other = make_settings(tmp_path / "other")
        other_manifest = write_layer(other, "VALUE = 2\n")
        key = s3.upload_layer(
            client(server.url, "s3"), BUCKET, "other", other.zip_path, other_manifest
        ).key
    lam.publish_layer_version(
        LayerName=NAME,
        Description="hand" if differs == "description" else lambda_.describe(manifest),
        Content={"S3Bucket": BUCKET, "S3Key": key},
        CompatibleRuntimes=["python3.11" if differs == "runtime" else manifest.runtime],
        CompatibleArchitectures=["arm64" if differs == "architecture" else manifest.architecture],
    )
    now = dt.datetime.now(dt.timezone.utc)
    since = now + dt.timedelta(minutes=1) if differs == "older" else now - dt.timedelta(minutes=1)
    description = lambda_.describe(manifest)
    assert lambda_.find_adoptable(lam, NAME, manifest, description, since) is None
    # Control: the same call finds an exact match published now.
    lam.publish_layer_version(
        LayerName=NAME,
        Description=description,
        Content={"S3Bucket": BUCKET, "S3Key": ready.key},
        CompatibleRuntimes=[manifest.runtime],
        CompatibleArchitectures=[manifest.architecture],
    )
    found = lambda_.find_adoptable(lam, NAME, manifest, description, now - dt.timedelta(minutes=1))
    assert found is not None and found.version == 2
