"""deploy against moto: plan, apply, idempotence, and outputs written only after success.

These use an already built zip (``build=False``); the build itself is exercised end to end
in tests/e2e. S3 goes through an http URL (see fakes.moto_clients).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from support import fakes
from support.fakes import make_settings, write_layer

from layer_tasks.aws import lambda_, s3
from layer_tasks.aws.session import Clients
from layer_tasks.config.settings import LayerSettings
from layer_tasks.deploy import executor, model, single
from layer_tasks.deploy import run as dep
from layer_tasks.errors import LayerError

WHEN = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


@pytest.fixture
def settings(tmp_path: Path) -> LayerSettings:
    return make_settings(tmp_path, lifecycle_days=30)


def _deploy(
    settings: LayerSettings, clients: Clients, lines: list[str] | None = None, **kw
) -> model.Outcome:
    log = lines.append if lines is not None else (lambda _line: None)
    return dep.deploy(settings, clients, build=False, log=log, **kw)


def _stage_layers(settings: LayerSettings, stage: str = "prod") -> list[str]:
    return json.loads(settings.chalice_config.read_text())["stages"][stage]["layers"]


def _objects(clients: Clients, bucket: str) -> list[str]:
    listed = clients.s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(item["Key"] for item in listed)


def test_first_deploy_creates_everything_in_order(
    settings: LayerSettings, clients: Clients
) -> None:
    manifest = write_layer(settings)
    outcome = _deploy(settings, clients, when=WHEN)

    assert outcome.published and outcome.version == 1
    # bucket: private + encrypted
    pab = clients.s3.get_public_access_block(Bucket=settings.bucket)[
        "PublicAccessBlockConfiguration"
    ]
    assert all(pab[k] for k in s3.PUBLIC_ACCESS_BLOCK)
    assert clients.s3.get_bucket_encryption(Bucket=settings.bucket)
    # lifecycle
    rules = s3.get_lifecycle_rules(clients.s3, settings.bucket)
    assert [r["Expiration"] for r in rules] == [{"Days": 30}]
    # object layout
    assert _objects(clients, settings.bucket) == [
        "layers/demo-layer/20240102-030405/demo-layer.manifest.json",
        "layers/demo-layer/20240102-030405/demo-layer.zip",
    ]
    # published version
    v1 = lambda_.get_layer_version(clients.lambda_, settings.name, 1)
    assert v1 is not None and v1.code_sha256 == manifest.code_sha256
    assert v1.runtimes == ("python3.12",) and v1.architectures == ("x86_64",)
    # outputs
    assert settings.arn_file.read_text() == f"{v1.arn}\n"
    assert _stage_layers(settings) == [v1.arn]
    assert _stage_layers(settings, "dev") == []
    assert json.loads(settings.chalice_config.read_text())["automatic_layer"] is False


def test_second_deploy_publishes_nothing(settings: LayerSettings, clients: Clients) -> None:
    write_layer(settings)
    first = _deploy(settings, clients)
    objects = _objects(clients, settings.bucket)
    config_before = settings.chalice_config.read_bytes()

    lines: list[str] = []
    second = _deploy(settings, clients, lines)

    assert not second.published and second.arn == first.arn
    assert "publish: skipped, unchanged, version 1" in lines
    assert [v.version for v in lambda_.iter_layer_versions(clients.lambda_, settings.name)] == [1]
    assert _objects(clients, settings.bucket) == objects
    assert settings.chalice_config.read_bytes() == config_before


def test_unchanged_deploy_repoints_outputs_at_the_published_version(
    settings: LayerSettings, clients: Clients
) -> None:
    write_layer(settings)
    first = _deploy(settings, clients)
    settings.arn_file.unlink()
    settings.chalice_config.write_text(json.dumps({"stages": {"prod": {"layers": []}}}))

    again = _deploy(settings, clients)

    assert not again.published
    assert settings.arn_file.read_text().strip() == first.arn
    assert _stage_layers(settings) == [first.arn]


def test_changed_zip_publishes_version_2_and_force_publishes_anyway(
    settings: LayerSettings, clients: Clients
) -> None:
    write_layer(settings, "V = 1\n")
    _deploy(settings, clients)
    manifest2 = write_layer(settings, "V = 2\n")

    second = _deploy(settings, clients)
    assert second.published and second.version == 2
    v2 = lambda_.get_layer_version(clients.lambda_, settings.name, 2)
    assert v2 is not None and v2.code_sha256 == manifest2.code_sha256
    assert _stage_layers(settings) == [v2.arn]

    forced = _deploy(settings, clients, force=True)
    assert forced.published and forced.version == 3


def test_stage_keeps_other_layers_and_swaps_our_version(
    settings: LayerSettings, clients: Clients
) -> None:
    other = "arn:aws:lambda:us-east-1:123456789012:layer:otel:4"
    write_layer(settings, "V = 1\n")
    first = _deploy(settings, clients)
    config = json.loads(settings.chalice_config.read_text())
    config["stages"]["prod"]["layers"] = [other, first.arn]
    settings.chalice_config.write_text(json.dumps(config, indent=2))
    write_layer(settings, "V = 2\n")

    second = _deploy(settings, clients)
    assert _stage_layers(settings) == [other, second.arn]


def test_publish_failure_after_upload_leaves_outputs_untouched(
    settings: LayerSettings, clients: Clients
) -> None:
    manifest = write_layer(settings)
    settings.arn_file.write_text("arn:aws:lambda:us-east-1:123456789012:layer:demo-layer:7\n")
    arn_before = settings.arn_file.read_bytes()
    config_before = settings.chalice_config.read_bytes()
    plan, _ = single.survey_and_plan(
        settings, clients, model.Options(build=False, when=WHEN), log=lambda _l: None
    )
    # The object in S3 will not be the bytes the manifest describes: its SHA-256 (what
    # Lambda would report as CodeSha256) disagrees with the local one, so the deploy must
    # stop after the upload, before a version exists that the outputs could point at.
    wrong = dataclasses.replace(manifest, code_sha256="A" * 43 + "=")
    settings.zip_path.write_bytes(settings.zip_path.read_bytes() + b"tampered")
    wrong = dataclasses.replace(wrong, zip_bytes=settings.zip_path.stat().st_size)

    with pytest.raises(LayerError, match="CodeSha256"):
        executor.execute(plan, wrong, clients, log=lambda _l: None)

    assert _objects(clients, settings.bucket)  # the upload happened
    assert settings.arn_file.read_bytes() == arn_before
    assert settings.chalice_config.read_bytes() == config_before


def test_dry_run_writes_nothing_and_creates_no_bucket(
    settings: LayerSettings, clients: Clients
) -> None:
    write_layer(settings)
    config_before = settings.chalice_config.read_bytes()
    lines: list[str] = []

    outcome = _deploy(settings, clients, lines, dry_run=True, when=WHEN)

    assert outcome.arn is None and not outcome.published
    text = "\n".join(lines)
    assert "bucket:    create s3://demo-layer-bucket" in text
    assert "lifecycle: create rule expiring zips after 30 days" in text
    assert "layers/demo-layer/20240102-030405/demo-layer.zip" in text
    assert "publish:   new version" in text
    assert clients.s3.list_buckets()["Buckets"] == []
    assert list(lambda_.iter_layer_versions(clients.lambda_, settings.name)) == []
    assert not settings.arn_file.exists()
    assert settings.chalice_config.read_bytes() == config_before


def test_dry_run_after_deploy_says_unchanged(settings: LayerSettings, clients: Clients) -> None:
    write_layer(settings)
    _deploy(settings, clients)
    lines: list[str] = []
    _deploy(settings, clients, lines, dry_run=True)
    assert any("publish:   skip, unchanged, version 1" in line for line in lines)
    assert any("upload:    nothing" in line for line in lines)


def test_existing_bucket_is_reported_not_changed(settings: LayerSettings, clients: Clients) -> None:
    clients.s3.create_bucket(Bucket=settings.bucket)
    write_layer(settings)
    lines: list[str] = []
    _deploy(settings, clients, lines)
    assert any("differs from the defaults: no public access block" in line for line in lines)
    with pytest.raises(ClientError, match="NoSuchPublicAccessBlockConfiguration"):
        clients.s3.get_public_access_block(Bucket=settings.bucket)


def test_over_budget_uploads_nothing(tmp_path: Path, clients: Clients) -> None:
    settings = make_settings(tmp_path, budget_mb=0.001)
    write_layer(settings, "X" * 4096)
    with pytest.raises(LayerError, match=r"over the budget.*nothing was uploaded"):
        _deploy(settings, clients)
    assert clients.s3.list_buckets()["Buckets"] == []
    assert not settings.arn_file.exists()


def test_zip_not_matching_its_manifest_is_refused(
    settings: LayerSettings, clients: Clients
) -> None:
    write_layer(settings)
    settings.zip_path.write_bytes(b"not the built zip")
    with pytest.raises(LayerError, match="does not match"):
        _deploy(settings, clients)
    assert clients.s3.list_buckets()["Buckets"] == []


def test_unknown_stage_fails_before_any_upload(tmp_path: Path, clients: Clients) -> None:
    settings = make_settings(tmp_path, stage="staging")
    write_layer(settings)
    with pytest.raises(LayerError):
        _deploy(settings, clients)
    assert boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"] == []


def _function_with_layer(clients: Clients, layer_arn: str) -> None:
    iam = boto3.client("iam", region_name=clients.region)
    fakes.create_function(clients.lambda_, iam, [layer_arn])


def test_deploy_with_function_swaps_only_this_layers_version(
    settings: LayerSettings, clients: Clients
) -> None:
    write_layer(settings, "VALUE = 1\n")
    first = _deploy(settings, clients, when=WHEN)
    other = clients.lambda_.publish_layer_version(
        LayerName="other-layer", Content={"ZipFile": b"PK\x05\x06" + b"\0" * 18}
    )["LayerVersionArn"]
    _function_with_layer(clients, first.arn or "")
    clients.lambda_.update_function_configuration(FunctionName="api", Layers=[first.arn, other])

    write_layer(settings, "VALUE = 2\n")
    lines: list[str] = []
    second = _deploy(
        dataclasses.replace(settings, function="api"), clients, lines, when=WHEN + dt.timedelta(1)
    )
    layers = clients.lambda_.get_function_configuration(FunctionName="api")["Layers"]
    assert [layer["Arn"] for layer in layers] == [second.arn, other]
    assert any(line.startswith("function: api") for line in lines)


def test_deploy_shares_the_version_once(settings: LayerSettings, clients: Clients) -> None:
    write_layer(settings)
    shared = dataclasses.replace(settings, share_with=("123456789012",))
    outcome = _deploy(shared, clients, when=WHEN)
    # A second, unchanged deploy must not add the statement again (nor fail on it).
    _deploy(shared, clients, when=WHEN + dt.timedelta(1))
    policy = json.loads(
        clients.lambda_.get_layer_version_policy(
            LayerName=settings.name, VersionNumber=outcome.version
        )["Policy"]
    )
    principals = [s["Principal"] for s in policy["Statement"]]
    assert len(principals) == 1 and "123456789012" in json.dumps(principals[0])


def test_no_permission_without_share_with(settings: LayerSettings, clients: Clients) -> None:
    write_layer(settings)
    outcome = _deploy(settings, clients, when=WHEN)
    with pytest.raises(ClientError):
        clients.lambda_.get_layer_version_policy(
            LayerName=settings.name, VersionNumber=outcome.version
        )


def test_no_change_deploy_makes_only_the_read_calls_it_needs(
    settings: LayerSettings, clients: Clients
) -> None:
    write_layer(settings)
    _deploy(settings, clients, when=WHEN)
    calls: list[str] = []

    def record(model: object, **_: object) -> None:
        calls.append(str(getattr(model, "name", model)))

    for client in (clients.s3, clients.lambda_):
        client.meta.events.register("before-call", record)
    lines: list[str] = []
    outcome = _deploy(settings, clients, lines, when=WHEN + dt.timedelta(1))
    assert not outcome.published
    # Learning that the latest version already has this CodeSha256 takes a list and a
    # get; the bucket, its lifecycle and every write are left alone.
    assert calls == ["ListLayerVersions", "GetLayerVersion"]
