"""Publishing from S3 and reading versions back."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from support import fakes
from support.fakes import make_settings, write_layer

from layer_tasks.aws import lambda_, s3
from layer_tasks.aws.session import Clients
from layer_tasks.errors import LayerError


@pytest.fixture
def clients(clients: Clients) -> Clients:
    s3.create_bucket(clients.s3, "pub-bucket", "us-east-1", plain_http=True)
    return clients


def _publish(clients: Clients, tmp_path: Path, payload: str = "V = 1\n") -> lambda_.LayerVersion:
    settings = make_settings(tmp_path)
    manifest = write_layer(settings, payload)
    up = fakes.upload(clients, "pub-bucket", settings, manifest)
    return fakes.publish(clients, up, manifest, name=settings.name, object_version=up.version_id)


def test_version_1_has_runtime_architecture_and_local_code_sha(
    clients: Clients, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, architecture="arm64", python="3.11")
    manifest = write_layer(settings)
    up = fakes.upload(clients, "pub-bucket", settings, manifest)
    published = fakes.publish(clients, up, manifest, name=settings.name, license_info="MIT")
    fetched = lambda_.get_layer_version(clients.lambda_, settings.name, 1)
    assert fetched is not None
    assert fetched.version == 1 == published.version
    assert fetched.runtimes == ("python3.11",)
    assert fetched.architectures == ("arm64",)
    assert fetched.code_sha256 == manifest.code_sha256
    assert fetched.code_size == manifest.zip_bytes
    assert fetched.license_info == "MIT"
    assert len(fetched.description) <= 256
    assert lambda_.parse_description(fetched.description) == (
        manifest.requirements_sha256,
        manifest.unzipped_bytes,
    )


def test_code_sha_mismatch_fails_loudly(clients: Clients, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    manifest = write_layer(settings)
    up = fakes.upload(clients, "pub-bucket", settings, manifest)
    other = dataclasses.replace(manifest, code_sha256="A" * 43 + "=")
    with pytest.raises(LayerError, match=r"CodeSha256.*left unchanged"):
        fakes.publish(clients, up, other, name=settings.name)


def test_publish_from_a_versioned_bucket_uses_the_object_version(
    clients: Clients, tmp_path: Path
) -> None:
    clients.s3.put_bucket_versioning(
        Bucket="pub-bucket", VersioningConfiguration={"Status": "Enabled"}
    )
    settings = make_settings(tmp_path)
    manifest = write_layer(settings)
    up = fakes.upload(clients, "pub-bucket", settings, manifest)
    assert up.version_id
    published = fakes.publish(
        clients, up, manifest, name=settings.name, object_version=up.version_id
    )
    assert published.code_sha256 == manifest.code_sha256


def test_versions_newest_first_latest_get_and_delete(clients: Clients, tmp_path: Path) -> None:
    for n in range(3):
        _publish(clients, tmp_path / str(n), f"V = {n}\n")
    listed = list(lambda_.iter_layer_versions(clients.lambda_, "demo-layer"))
    assert [v.version for v in listed] == [3, 2, 1]
    assert all(v.layer_arn == listed[0].arn.rsplit(":", 1)[0] for v in listed)
    latest = lambda_.latest_layer_version(clients.lambda_, "demo-layer")
    assert latest is not None and latest.version == 3 and latest.code_sha256

    lambda_.delete_layer_version(clients.lambda_, "demo-layer", 2)
    assert lambda_.get_layer_version(clients.lambda_, "demo-layer", 2) is None
    assert [v.version for v in lambda_.iter_layer_versions(clients.lambda_, "demo-layer")] == [3, 1]


def test_missing_layer_yields_nothing(clients: Clients) -> None:
    assert list(lambda_.iter_layer_versions(clients.lambda_, "no-such-layer")) == []
    assert lambda_.latest_layer_version(clients.lambda_, "no-such-layer") is None
    assert lambda_.get_layer_version(clients.lambda_, "no-such-layer", 1) is None


def test_description_fits_256_chars_with_a_long_name(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, name="n" * 140)
    manifest = write_layer(settings, unzipped_bytes=262_144_000)
    text = lambda_.describe(manifest)
    assert len(text) <= 256
    assert lambda_.parse_description(text)[1] == 262_144_000
