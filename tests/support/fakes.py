"""Helpers for the AWS tests: settings, a small deterministic layer zip, moto clients."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from layer_tasks.aws.hooks import ExpectedOwner
from layer_tasks.aws.lambda_ import LayerVersion, check_code_sha256, publish_params
from layer_tasks.aws.lambda_ import publish as lambda_publish
from layer_tasks.aws.s3 import Uploaded, free_key, upload_layer
from layer_tasks.aws.session import Clients
from layer_tasks.config.settings import LayerSettings
from layer_tasks.model.manifest import Manifest

REGION = "us-east-1"
CONFIG = {
    "version": "2.0",
    "app_name": "demo",
    "automatic_layer": True,
    "stages": {"prod": {"api_gateway_stage": "api", "layers": []}, "dev": {"layers": []}},
}


def make_settings(root: Path, **overrides: Any) -> LayerSettings:
    """Settings rooted in ``root`` with a Chalice config; no build needed."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".chalice").mkdir(exist_ok=True)
    config = root / ".chalice" / "config.json"
    if not config.exists():
        config.write_text(json.dumps(CONFIG, indent=2) + "\n", encoding="utf-8")
    raw = {
        "name": "demo-layer",
        "bucket": "demo-layer-bucket",
        "region": REGION,
        "dist_dir": "dist",
        "state_dir": ".state",
        **overrides,
    }
    return LayerSettings.from_mapping(raw, base_dir=root)


def zip_bytes(payload: str) -> bytes:
    """A deterministic layer zip whose bytes depend only on ``payload``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("python/demo_pkg/__init__.py", date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        zf.writestr(info, payload)
    return buf.getvalue()


@contextlib.contextmanager
def mocked_lambda(monkeypatch: pytest.MonkeyPatch, region: str = REGION) -> Iterator[Any]:
    """A Lambda client on in-process moto; no endpoint or profile of the host's leaks in."""
    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("lambda", region_name=region)


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def write_layer(settings: LayerSettings, payload: str = "VALUE = 1\n", **fields: Any) -> Manifest:
    """Write ``<dist>/<name>.zip`` and its manifest, as a build would."""
    data = zip_bytes(payload)
    settings.dist_dir.mkdir(parents=True, exist_ok=True)
    settings.zip_path.write_bytes(data)
    values: dict[str, Any] = {
        "name": settings.name,
        "python": settings.python,
        "architecture": settings.architecture,
        "code_sha256": sha256_b64(data),
        "zip_bytes": len(data),
        "unzipped_bytes": len(payload),
        "files": 1,
        "requirements_sha256": hashlib.sha256(payload.encode()).hexdigest(),
        "distributions": (),
        "pruned": {},
    }
    values.update(fields)
    manifest = Manifest(**values)
    manifest.write(settings.manifest_path)
    return manifest


def moto_clients(*, plain_http: bool, region: str = REGION) -> Clients:
    """Clients inside ``mock_aws``. ``plain_http`` points S3 at an http URL so the code
    takes its plain-http branch (no TLS policy): moto enforces a Deny on Principal *
    whatever its aws:SecureTransport condition, which would block every upload."""
    extra = {"endpoint_url": f"http://s3.{region}.amazonaws.com"} if plain_http else {}
    s3 = boto3.client("s3", region_name=region, **extra)
    # As make_clients does: every S3 call names the bucket owner (moto's account).
    sts = boto3.client("sts", region_name=region)
    ExpectedOwner(lambda: sts.get_caller_identity()["Account"]).attach(s3)
    return Clients(s3=s3, lambda_=boto3.client("lambda", region_name=region), region=region)


LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def create_function(
    lam: Any, iam: Any, layers: list[str], name: str = "api", code: bytes | None = None
) -> None:
    """A python3.12 function using ``layers`` (moto wants a real IAM role for it)."""
    role = iam.create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
    )
    if code is None:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("app.py", "def handler(event, context):\n    return 1\n")
        code = buf.getvalue()
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": code},
        Layers=layers,
    )


def upload(
    clients: Clients,
    bucket: str,
    settings: LayerSettings,
    manifest: Manifest,
    when: dt.datetime | None = None,
) -> Uploaded:
    """The deploy's upload step by hand: the first free key for ``when``, then the zip."""
    when = when or dt.datetime.now(dt.timezone.utc)
    key = free_key(clients.s3, bucket, settings.prefix, manifest.name, when)
    return upload_layer(clients.s3, bucket, key, settings.zip_path, manifest, log=lambda _l: None)


def publish(
    clients: Clients,
    up: Uploaded,
    manifest: Manifest,
    *,
    name: str,
    license_info: str = "",
    object_version: str | None = None,
) -> LayerVersion:
    """The deploy's publish and verify steps by hand, for the uploaded ``up``."""
    params = publish_params(
        manifest, name=name, bucket=up.bucket, key=up.key, license_info=license_info
    )
    published = lambda_publish(clients.lambda_, params, object_version)
    check_code_sha256(published, manifest.code_sha256)
    return published
