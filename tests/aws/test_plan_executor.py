"""The plan is the program: what the executor does is exactly the printed steps.

A deploy that uses every kind of step runs against moto while every AWS request and
every file change is recorded; the recording must split into one group per step, in
the plan's order, each group being what that step says (bucket, key, parameters).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from support import fakes
from support.fakes import make_settings, write_layer

from layer_tasks.aws import s3
from layer_tasks.aws.sbom_upload import sbom_key
from layer_tasks.aws.session import Clients
from layer_tasks.build.sbom import sbom_beside
from layer_tasks.config.settings import LayerSettings
from layer_tasks.deploy import executor, model, single
from layer_tasks.deploy import plan as p
from layer_tasks.deploy import run as dep

WHEN = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
SHARE = "111122223333"


class Recorder:
    """Every request that changes something (not Get/Head/List), with its parameters."""

    def __init__(self, *clients: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        for client in {id(c): c for c in clients}.values():  # uploads may be the s3 client
            client.meta.events.register("before-parameter-build.*.*", self)

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if not model.name.startswith(("Get", "Head", "List")):
            self.calls.append((model.name, dict(params)))


@pytest.fixture
def settings(tmp_path: Path, clients: Clients) -> LayerSettings:
    fakes.create_function(clients.lambda_, boto3.client("iam", region_name="us-east-1"), [])
    return make_settings(tmp_path, function="api", share_with=[SHARE])


def expected_calls(step: p.Step) -> list[tuple[str, dict[str, Any]]]:
    """What each kind of step must send (the parts of the request that matter)."""
    if isinstance(step, p.CreateBucket):
        return [
            ("CreateBucket", {"Bucket": step.bucket}),
            ("PutPublicAccessBlock", {"Bucket": step.bucket}),
            ("PutBucketEncryption", {"Bucket": step.bucket}),
        ]
    if isinstance(step, p.AcquireLock):
        return [("PutObject", {"Bucket": step.bucket, "Key": step.key, "IfNoneMatch": "*"})]
    if isinstance(step, p.ReleaseLock):
        return [("DeleteObject", {"Bucket": step.bucket, "Key": step.key})]
    if isinstance(step, p.PutLifecycle):
        rules = {"Rules": list(step.rules)}
        return [
            (
                "PutBucketLifecycleConfiguration",
                {"Bucket": step.bucket, "LifecycleConfiguration": rules},
            )
        ]
    if isinstance(step, p.Upload):
        return [
            ("PutObject", {"Bucket": step.bucket, "Key": step.key}),
            ("PutObject", {"Bucket": step.bucket, "Key": s3.manifest_key(step.key)}),
        ]
    if isinstance(step, p.UploadSbom):
        return [("PutObject", {"Bucket": step.bucket, "Key": sbom_key(step.zip_key)})]
    if isinstance(step, p.Publish):
        return [("PublishLayerVersion", step.params)]
    if isinstance(step, p.Share):
        return [("AddLayerVersionPermission", {"LayerName": step.name, "Principal": SHARE})]
    if isinstance(step, p.WireFunction):
        return [("UpdateFunctionConfiguration", {"FunctionName": step.function})]
    return []  # Note, ShowDiff, VerifyCodeSha256, UseVersion, WriteArnFile, UpdateConfig


def test_the_executor_sends_exactly_the_planned_requests_and_writes_the_planned_files(
    settings: LayerSettings, clients: Clients
) -> None:
    write_layer(settings)
    sbom_beside(settings.zip_path).write_text('{"bomFormat": "CycloneDX"}\n')
    dry: list[str] = []
    dep.deploy(settings, clients, build=False, dry_run=True, log=dry.append, when=WHEN)
    plan, manifest = single.survey_and_plan(
        settings, clients, model.Options(build=False, when=WHEN), log=lambda _l: None
    )
    # --dry-run prints the very steps that run.
    assert dry[1:] == [f"  {line}" for line in plan.lines()]
    kinds = [type(step).__name__ for step in plan.steps if not isinstance(step, p.Note)]
    assert kinds == [
        "ShowDiff",
        "CreateBucket",
        "AcquireLock",
        "PutLifecycle",
        "Upload",
        "UploadSbom",
        "Publish",
        "VerifyCodeSha256",
        "Share",
        "WriteArnFile",
        "UpdateConfig",
        "WireFunction",
        "ReleaseLock",
    ]
    upload = next(s for s in plan.steps if isinstance(s, p.Upload))
    assert upload.key == "layers/demo-layer/20240102-030405/demo-layer.zip"
    assert f"  upload:    s3://demo-layer-bucket/{upload.key} (+ manifest beside it)" in dry

    config_before = settings.chalice_config.read_bytes()
    recorder = Recorder(clients.s3, clients.uploads, clients.lambda_)
    assert manifest is not None
    outcome = executor.execute(plan, manifest, clients, log=lambda _l: None)

    # One to one: the recorded requests are the steps' requests, in the plan's order.
    expected = [call for step in plan.steps for call in expected_calls(step)]
    assert [name for name, _ in recorder.calls] == [name for name, _ in expected]
    for (name, sent), (_, wanted) in zip(recorder.calls, expected, strict=True):
        assert {k: sent.get(k) for k in wanted} == wanted, name
    # The published version came from the planned key, and the files say so.
    publish = next(s for s in plan.steps if isinstance(s, p.Publish))
    assert publish.params["Content"]["S3Key"] == upload.key
    assert settings.arn_file.read_text() == f"{outcome.arn}\n"
    assert settings.chalice_config.read_bytes() != config_before
    stage = json.loads(settings.chalice_config.read_text())["stages"]["prod"]
    assert stage["layers"] == [outcome.arn]


def test_a_no_change_plan_sends_nothing_and_writes_nothing(
    settings: LayerSettings, clients: Clients
) -> None:
    write_layer(settings)
    first = dep.deploy(settings, clients, build=False, log=lambda _l: None, when=WHEN)
    arn_file, config = settings.arn_file.read_bytes(), settings.chalice_config.read_bytes()
    plan, manifest = single.survey_and_plan(
        settings, clients, model.Options(build=False), log=lambda _l: None
    )
    assert manifest is not None
    changing = [s for s in plan.steps if not isinstance(s, (p.Note, p.ShowDiff, p.UseVersion))]
    # Sharing and wiring the function are idempotent and stay in the plan; they change
    # nothing the second time.
    assert [type(s).__name__ for s in changing] == ["Share", "WireFunction"]
    recorder = Recorder(clients.s3, clients.uploads, clients.lambda_)
    again = executor.execute(plan, manifest, clients, log=lambda _l: None)
    assert again.arn == first.arn and not again.published
    assert recorder.calls == []
    assert settings.arn_file.read_bytes() == arn_file
    assert settings.chalice_config.read_bytes() == config
