"""The upload: key layout, metadata, SHA-256 checksum, manifest beside it, no overwrite."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from support import fakes
from support.fakes import make_settings, sha256_b64, write_layer

from layer_tasks.aws import s3
from layer_tasks.aws.session import Clients

WHEN = dt.datetime(2024, 5, 17, 8, 9, 10, tzinfo=dt.timezone.utc)


@pytest.fixture
def clients(clients: Clients) -> Clients:
    s3.create_bucket(clients.s3, "up-bucket", "us-east-1", plain_http=True)
    return clients


def test_object_at_key_layout_with_metadata_checksum_and_manifest(
    clients: Clients, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    manifest = write_layer(settings)

    up = fakes.upload(clients, "up-bucket", settings, manifest, WHEN)

    assert up.key == "layers/demo-layer/20240517-080910/demo-layer.zip"
    head = clients.s3.head_object(Bucket="up-bucket", Key=up.key, ChecksumMode="ENABLED")
    assert head["Metadata"]["code_sha256"] == manifest.code_sha256
    assert head["Metadata"]["unzipped_bytes"] == str(manifest.unzipped_bytes)
    assert head["ChecksumSHA256"] == sha256_b64(settings.zip_path.read_bytes())
    body = clients.s3.get_object(Bucket="up-bucket", Key=up.key)["Body"].read()
    assert body == settings.zip_path.read_bytes()
    assert up.manifest_key == "layers/demo-layer/20240517-080910/demo-layer.manifest.json"
    stored = json.loads(
        clients.s3.get_object(Bucket="up-bucket", Key=up.manifest_key)["Body"].read()
    )
    assert stored["code_sha256"] == manifest.code_sha256


def test_two_uploads_in_the_same_second_never_overwrite(clients: Clients, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    first_manifest = write_layer(settings, "A = 1\n")
    first = fakes.upload(clients, "up-bucket", settings, first_manifest, WHEN)
    second_manifest = write_layer(settings, "B = 2\n")
    second = fakes.upload(clients, "up-bucket", settings, second_manifest, WHEN)

    assert first.key != second.key
    assert second.key == "layers/demo-layer/20240517-080910-1/demo-layer.zip"
    meta = clients.s3.head_object(Bucket="up-bucket", Key=first.key)["Metadata"]
    assert meta["code_sha256"] == first_manifest.code_sha256
    assert s3.usage(clients.s3, "up-bucket", "layers", "demo-layer")[0] == 4  # 2 zips + 2 manifests


def test_multipart_upload_for_a_large_zip(clients: Clients, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    manifest = write_layer(settings)
    big = b"\0" * (17 * 1024 * 1024)  # above the 16 MiB multipart threshold
    settings.zip_path.write_bytes(big)
    manifest = type(manifest)(
        **{**manifest.__dict__, "code_sha256": sha256_b64(big), "zip_bytes": len(big)}
    )

    up = fakes.upload(clients, "up-bucket", settings, manifest, WHEN)

    head = clients.s3.head_object(Bucket="up-bucket", Key=up.key)
    assert head["ContentLength"] == len(big)
    assert head["ETag"].strip('"').endswith("-2")  # two parts
    assert s3.usage(clients.s3, "up-bucket", "layers", "demo-layer") == (
        2,
        len(big) + head_size(clients, up.manifest_key),
    )


def head_size(clients: Clients, key: str) -> int:
    return int(clients.s3.head_object(Bucket="up-bucket", Key=key)["ContentLength"])


def test_usage_of_a_missing_prefix_is_zero(clients: Clients) -> None:
    assert s3.usage(clients.s3, "up-bucket", "layers", "nothing-here") == (0, 0)
