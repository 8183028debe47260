"""The SBOM goes beside the zip in S3 (moto), and never over another deploy's object."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from support.fakes import make_settings, write_layer

from layer_tasks.aws import s3
from layer_tasks.aws.errors import PreconditionFailed
from layer_tasks.aws.sbom_upload import upload_sbom
from layer_tasks.aws.session import Clients

WHEN = dt.datetime(2026, 11, 1, 10, 0, 0, tzinfo=dt.timezone.utc)


def test_sbom_lands_beside_the_zip(tmp_path: Path, clients: Clients) -> None:
    settings = make_settings(tmp_path)
    manifest = write_layer(settings)
    s3.create_bucket(clients.s3, settings.bucket, clients.region, plain_http=True)
    key = s3.object_key(settings.prefix, settings.name, WHEN)
    up = s3.upload_layer(
        clients.s3, settings.bucket, key, settings.zip_path, manifest, log=lambda _m: None
    )
    sbom = settings.dist_dir / f"{settings.name}.cdx.json"
    sbom.write_text('{"bomFormat": "CycloneDX"}\n')

    sbom_at = upload_sbom(clients.s3, settings.bucket, up.key, sbom)
    assert sbom_at == "layers/demo-layer/20261101-100000/demo-layer.cdx.json"
    listed = clients.s3.list_objects_v2(Bucket=settings.bucket)["Contents"]
    assert sorted(item["Key"] for item in listed) == sorted([up.key, up.manifest_key, sbom_at])
    got = clients.s3.get_object(Bucket=settings.bucket, Key=sbom_at)
    assert got["Body"].read() == sbom.read_bytes()
    assert got["ContentType"] == "application/vnd.cyclonedx+json"

    sbom.write_text('{"other": true}\n')
    with pytest.raises(PreconditionFailed):
        upload_sbom(clients.s3, settings.bucket, up.key, sbom)
    kept = clients.s3.get_object(Bucket=settings.bucket, Key=sbom_at)["Body"].read()
    assert kept == b'{"bomFormat": "CycloneDX"}\n'
