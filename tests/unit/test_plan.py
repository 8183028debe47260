"""make_plan and make_outputs_plan on hand-made findings: which steps, in which order,
with which values; no AWS (the executor's side is tests/aws/test_plan_executor.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from layer_tasks.aws import s3
from layer_tasks.aws.lambda_ import LayerVersion, publish_params
from layer_tasks.config.platform import DIRECT_UPLOAD_LIMIT_BYTES
from layer_tasks.config.settings import LayerSettings
from layer_tasks.deploy import plan as p
from layer_tasks.deploy.plan import Found, make_outputs_plan, make_plan, unchanged_version
from layer_tasks.model.manifest import Manifest
from layer_tasks.report.diff import diff_manifests

REGION = "us-east-1"
BUCKET = "demo-layer-bucket"
KEY = "layers/demo-layer/20240102-030405/demo-layer.zip"
LAYER = f"arn:aws:lambda:{REGION}:123456789012:layer:demo-layer"
OTHER_LAYER = f"arn:aws:lambda:{REGION}:123456789012:layer:other:4"
SHARE = "111122223333"
MANIFEST = Manifest(
    name="demo-layer",
    python="3.12",
    architecture="x86_64",
    code_sha256="bmV3IHppcA==",
    zip_bytes=1_000,
    unzipped_bytes=4_000,
    files=10,
    requirements_sha256="ab" * 32,
    distributions=(),
    pruned={},
)
OUTPUTS = {"WriteArnFile", "UpdateConfig", "WireFunction"}


def settings_of(tmp_path: Path, **raw: Any) -> LayerSettings:
    """Settings from a plain mapping, as invoke.yaml's ``layer:`` would give them."""
    base = {"name": "demo-layer", "bucket": BUCKET, "region": REGION, "dist_dir": "dist"}
    return LayerSettings.from_mapping({**base, **raw}, base_dir=tmp_path)


def version(number: int, code_sha256: str = MANIFEST.code_sha256, **fields: Any) -> LayerVersion:
    values: dict[str, Any] = {
        "version": number,
        "arn": f"{LAYER}:{number}",
        "layer_arn": LAYER,
        "created": "2024-01-01T00:00:00.000+0000",
        "description": "",
        "runtimes": ("python3.12",),
        "architectures": ("x86_64",),
        "code_sha256": code_sha256,
        **fields,
    }
    return LayerVersion(**values)


def found_of(**changes: Any) -> Found:
    """What a survey finds before a first deploy to an existing, conforming bucket with
    no lifecycle rule, a config stage with no layers, and a free key; ``changes`` on top."""
    base = Found(
        build="reuse",
        manifest=MANIFEST,
        region=REGION,
        plain_http=False,
        latest=None,
        bucket=s3.BucketState(BUCKET, exists=True),
        key=KEY,
        config_before=(),
    )
    return replace(base, **changes)


def our_rule(settings: LayerSettings, days: int | None = None) -> dict[str, Any]:
    return s3.lifecycle_rule(settings.prefix, settings.name, days or settings.lifecycle_days)


def kinds(plan: p.Plan) -> list[str]:
    return [type(step).__name__ for step in plan.steps]


def only(plan: p.Plan, kind: type[p.Step]) -> Any:
    """The one step of ``kind`` in the plan (failing when there are none or several)."""
    found = [step for step in plan.steps if isinstance(step, kind)]
    assert len(found) == 1, kinds(plan)
    return found[0]


def notes(plan: p.Plan) -> dict[str, str]:
    return {step.label: step.text for step in plan.steps if isinstance(step, p.Note)}


# --- order ------------------------------------------------------------------------


def test_a_first_deploy_with_every_option_is_every_step_in_order(tmp_path: Path) -> None:
    settings = settings_of(
        tmp_path, function="api", share_with=[SHARE], ssm_parameter="/layers/{name}/{arch}"
    )
    old = json.loads(MANIFEST.to_json()) | {"code_sha256": "b2xk", "zip_bytes": 900}
    diff = diff_manifests(old, json.loads(MANIFEST.to_json()), new_label="local")
    sbom = tmp_path / "dist" / "demo-layer.cdx.json"
    found = found_of(
        bucket=s3.BucketState(BUCKET, exists=False),
        sbom=sbom,
        diff=diff,
        notes=("checked by hand",),
    )
    plan = make_plan(settings, found)
    lock = "layers/demo-layer/deploy.lock"
    params = publish_params(MANIFEST, name="demo-layer", bucket=BUCKET, key=KEY)
    assert plan.steps == (
        p.Note("build", f"reuse {settings.zip_path} (inputs unchanged)"),
        p.ShowDiff(diff),
        p.CreateBucket(BUCKET, REGION, "", tls_policy=True),
        p.AcquireLock(BUCKET, lock, 300, 30, "", seen_latest=None),
        p.PutLifecycle(BUCKET, (our_rule(settings),), "create", 90),
        p.Upload(BUCKET, KEY, settings.zip_path, ""),
        p.UploadSbom(BUCKET, KEY, sbom, ""),
        p.Publish(params),
        p.VerifyCodeSha256(MANIFEST.code_sha256),
        p.Share("demo-layer", (SHARE,)),
        p.PutParameter("/layers/demo-layer/x86_64", REGION, None),
        # The outputs: to the version this plan publishes (arn None).
        p.WriteArnFile(settings.arn_file, None, None),
        p.UpdateConfig(settings.chalice_config, "prod", (), None, REGION, settings.state_dir),
        p.WireFunction("api", REGION),
        p.ReleaseLock(BUCKET, lock),
        p.Note("note", "checked by hand"),  # the survey's, after everything that runs
    )
    assert plan.publishes and plan.unchanged is None
    assert plan.target == f"demo-layer (python3.12, x86_64) in {REGION}"


def test_the_lock_is_taken_after_the_bucket_and_before_anything_changes_in_it(
    tmp_path: Path,
) -> None:
    settings = settings_of(tmp_path, lock_wait_seconds=60, lock_timeout_minutes=7)
    plan = make_plan(settings, found_of(latest=version(3, code_sha256="b2xk")))
    order = kinds(plan)
    # The bucket exists and conforms: a note, then the lock, then the changes in it.
    bucket = plan.steps.index(p.Note("bucket", f"s3://{BUCKET} exists (settings left as they are)"))
    assert bucket + 1 == order.index("AcquireLock")
    assert order.index("AcquireLock") < order.index("PutLifecycle") < order.index("Upload")
    assert only(plan, p.AcquireLock) == p.AcquireLock(
        BUCKET, "layers/demo-layer/deploy.lock", 60, 7, "", seen_latest=3
    )
    # Released last: after the outputs it guards.
    assert order[-1] == "ReleaseLock" and order.index("UpdateConfig") < order.index("ReleaseLock")
    assert plan.steps[-1] == p.ReleaseLock(BUCKET, "layers/demo-layer/deploy.lock")
    # A layer with no version yet: no latest was seen.
    assert only(make_plan(settings, found_of(latest=None)), p.AcquireLock).seen_latest is None


def test_the_outputs_come_only_after_lambdas_code_sha256_is_verified(tmp_path: Path) -> None:
    plan = make_plan(settings_of(tmp_path, function="api"), found_of())
    order = kinds(plan)
    verified = order.index("VerifyCodeSha256")
    assert order.index("Publish") < verified
    assert all(order.index(kind) > verified for kind in OUTPUTS)
    assert only(plan, p.VerifyCodeSha256).expected == MANIFEST.code_sha256


# --- the bucket and its lifecycle -------------------------------------------------


@pytest.mark.parametrize(
    "bucket", [s3.BucketState(BUCKET, exists=False), None], ids=["missing", "not-read"]
)
def test_a_missing_bucket_is_created_in_the_region(
    tmp_path: Path, bucket: s3.BucketState | None
) -> None:
    settings = settings_of(tmp_path, kms_key_id="alias/layers")
    plan = make_plan(settings, found_of(bucket=bucket))
    assert only(plan, p.CreateBucket) == p.CreateBucket(BUCKET, REGION, "alias/layers", True)
    assert "WarnBucket" not in kinds(plan) and "bucket" not in notes(plan)


def test_over_plain_http_the_bucket_is_created_without_the_tls_policy(tmp_path: Path) -> None:
    found = found_of(bucket=s3.BucketState(BUCKET, exists=False), plain_http=True)
    create = only(make_plan(settings_of(tmp_path), found), p.CreateBucket)
    assert create.tls_policy is False
    assert create.lines() == [
        f"bucket:    create s3://{BUCKET} in {REGION} (private, encrypted; TLS-only policy "
        "skipped (plain-http endpoint))"
    ]


def test_an_existing_bucket_that_differs_is_warned_about_and_left_alone(tmp_path: Path) -> None:
    differences = ("no default encryption", "public access not blocked")
    plan = make_plan(
        settings_of(tmp_path), found_of(bucket=s3.BucketState(BUCKET, True, differences))
    )
    assert only(plan, p.WarnBucket) == p.WarnBucket(BUCKET, differences)
    assert "CreateBucket" not in kinds(plan)
    assert only(plan, p.WarnBucket).lines()[1:] == [
        "           differs from defaults: no default encryption",
        "           differs from defaults: public access not blocked",
    ]


def test_a_missing_lifecycle_rule_is_created_beside_the_others(tmp_path: Path) -> None:
    settings = settings_of(tmp_path, lifecycle_days=30)
    theirs = {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}}
    step = only(make_plan(settings, found_of(lifecycle_rules=(theirs,))), p.PutLifecycle)
    assert step == p.PutLifecycle(BUCKET, (theirs, our_rule(settings)), "create", 30)
    assert step.lines() == [
        "lifecycle: create rule expiring zips after 30 days (other rules kept: 1)"
    ]


def test_a_changed_lifecycle_rule_is_updated_in_place(tmp_path: Path) -> None:
    settings = settings_of(tmp_path)
    rules = (our_rule(settings, days=7), {"ID": "logs", "Status": "Enabled"})
    step = only(make_plan(settings, found_of(lifecycle_rules=rules)), p.PutLifecycle)
    assert step.change == "update"
    assert step.rules == (our_rule(settings), rules[1])


def test_an_unchanged_lifecycle_rule_is_only_a_note(tmp_path: Path) -> None:
    settings = settings_of(tmp_path)
    plan = make_plan(settings, found_of(lifecycle_rules=(our_rule(settings),)))
    assert "PutLifecycle" not in kinds(plan)
    assert notes(plan)["lifecycle"] == "unchanged (90 days)"


# --- upload and publish -----------------------------------------------------------


def test_publish_sends_the_uploaded_key_and_the_builds_runtime_and_architecture(
    tmp_path: Path,
) -> None:
    settings = settings_of(tmp_path, kms_key_id="alias/layers", license_info="MIT")
    plan = make_plan(settings, found_of())
    upload = only(plan, p.Upload)
    assert upload == p.Upload(BUCKET, KEY, settings.zip_path, "alias/layers")
    publish = only(plan, p.Publish)
    assert publish.params == {
        "LayerName": "demo-layer",
        "Description": (
            f"demo-layer python3.12 x86_64; requirements-sha256={'ab' * 32} "
            "unzipped=4000 files=10; layer-tasks"
        ),
        "Content": {"S3Bucket": BUCKET, "S3Key": KEY},
        "CompatibleRuntimes": ["python3.12"],
        "CompatibleArchitectures": ["x86_64"],
        "LicenseInfo": "MIT",
    }
    assert publish.params["Content"]["S3Key"] == upload.key
    assert not publish.forced and not publish.align


def test_an_arm64_build_publishes_for_arm64(tmp_path: Path) -> None:
    settings = settings_of(tmp_path, architecture="arm64", python="3.11")
    manifest = replace(MANIFEST, architecture="arm64", python="3.11")
    params = only(make_plan(settings, found_of(manifest=manifest)), p.Publish).params
    assert params["CompatibleRuntimes"] == ["python3.11"]
    assert params["CompatibleArchitectures"] == ["arm64"]
    assert "LicenseInfo" not in params


def test_the_sbom_is_uploaded_beside_the_zip_only_when_there_is_one(tmp_path: Path) -> None:
    settings = settings_of(tmp_path)
    sbom = tmp_path / "dist" / "demo-layer.cdx.json"
    plan = make_plan(settings, found_of(sbom=sbom))
    order = kinds(plan)
    assert order.index("UploadSbom") == order.index("Upload") + 1
    step = only(plan, p.UploadSbom)
    assert step == p.UploadSbom(BUCKET, KEY, sbom, "")
    assert step.lines() == [f"sbom:      s3://{BUCKET}/{KEY.removesuffix('.zip')}.cdx.json"]
    assert "UploadSbom" not in kinds(make_plan(settings, found_of(sbom=None)))


def test_one_filler_publishes_the_same_zip_once_before_the_real_version(tmp_path: Path) -> None:
    settings = settings_of(tmp_path)
    publishes = [
        s for s in make_plan(settings, found_of(fillers=1)).steps if isinstance(s, p.Publish)
    ]
    assert [(s.align, s.forced) for s in publishes] == [(True, False), (False, False)]
    assert publishes[0].params == publishes[1].params
    assert publishes[0].lines() == [
        "publish:   the same zip once first: this region is one version behind "
        "(layer.align_versions)"
    ]
    plain = [s for s in make_plan(settings, found_of()).steps if isinstance(s, p.Publish)]
    assert [s.align for s in plain] == [False]


def test_a_dry_run_that_would_rebuild_publishes_without_a_known_hash(tmp_path: Path) -> None:
    settings = settings_of(tmp_path)
    plan = make_plan(settings, found_of(build="rebuild", manifest=None, key=KEY))
    assert plan.steps[0].lines() == [
        f"build:     rebuild {settings.zip_path} (inputs changed or no build yet)"
    ]
    assert only(plan, p.Publish).params == {
        "LayerName": "demo-layer",
        "Content": {"S3Bucket": BUCKET},
    }
    assert "VerifyCodeSha256" not in kinds(plan)


def test_the_publish_task_says_it_publishes_the_existing_zip(tmp_path: Path) -> None:
    settings = settings_of(tmp_path)
    plan = make_plan(settings, found_of(build="existing zip"))
    assert plan.steps[0] == p.Note("build", f"none, publish the existing {settings.zip_path}")


def test_a_zip_over_the_direct_upload_limit_gets_a_note_after_the_release(tmp_path: Path) -> None:
    big = replace(MANIFEST, zip_bytes=DIRECT_UPLOAD_LIMIT_BYTES + 1)
    plan = make_plan(settings_of(tmp_path), found_of(manifest=big))
    assert kinds(plan)[-2:] == ["ReleaseLock", "Note"]
    assert plan.steps[-1] == p.Note(
        "note",
        f"zip is {DIRECT_UPLOAD_LIMIT_BYTES + 1:,} bytes, over the 50 MB direct-upload limit: "
        "publishing from S3 is what makes that work",
    )
    at_limit = replace(MANIFEST, zip_bytes=DIRECT_UPLOAD_LIMIT_BYTES)
    assert "note" not in notes(make_plan(settings_of(tmp_path), found_of(manifest=at_limit)))


# --- no change --------------------------------------------------------------------


def test_unchanged_version_needs_the_same_zip_runtime_and_architecture() -> None:
    assert unchanged_version(found_of(latest=version(5))) == version(5)
    assert unchanged_version(found_of(latest=version(5, code_sha256="b3RoZXI="))) is None
    assert unchanged_version(found_of(latest=version(5, runtimes=("python3.11",)))) is None
    assert unchanged_version(found_of(latest=version(5, architectures=("arm64",)))) is None
    # A version published without architectures counts for any of them.
    assert unchanged_version(found_of(latest=version(5, architectures=()))) is not None
    assert unchanged_version(found_of(latest=version(5), manifest=None)) is None
    assert unchanged_version(found_of(latest=None)) is None


def test_the_same_zip_uses_the_latest_version_and_uploads_nothing(tmp_path: Path) -> None:
    settings = settings_of(tmp_path, share_with=[SHARE])
    latest = version(5)
    plan = make_plan(settings, found_of(latest=latest, arn_before=f"{LAYER}:4"))
    assert kinds(plan) == [
        "Note",
        "Note",
        "Note",
        "UseVersion",
        "Share",
        "WriteArnFile",
        "UpdateConfig",
    ]
    assert not plan.publishes and plan.unchanged == latest
    assert notes(plan) == {
        "build": f"reuse {settings.zip_path} (inputs unchanged)",
        "bucket": f"s3://{BUCKET} not read (nothing to upload)",
        "lifecycle": "not read (nothing to upload; `inv layer.lifecycle` sets it)",
    }
    assert only(plan, p.UseVersion).lines() == [
        "upload:    nothing",
        "publish:   skip, unchanged, version 5",
    ]
    # The outputs point at the version already there, not at one to come.
    assert only(plan, p.WriteArnFile) == p.WriteArnFile(settings.arn_file, f"{LAYER}:4", latest.arn)
    assert only(plan, p.UpdateConfig).arn == latest.arn


def test_force_publishes_the_same_zip_again(tmp_path: Path) -> None:
    plan = make_plan(settings_of(tmp_path), found_of(latest=version(5)), force=True)
    assert "UseVersion" not in kinds(plan)
    assert {"AcquireLock", "Upload", "VerifyCodeSha256", "ReleaseLock"} <= set(kinds(plan))
    publish = only(plan, p.Publish)
    assert publish.forced is True
    assert publish.lines() == ["publish:   new version of the layer (--force)"]
    assert only(plan, p.WriteArnFile).arn is None  # the version this plan publishes
    assert plan.unchanged is None


def test_outputs_that_already_point_at_the_version_are_notes(tmp_path: Path) -> None:
    settings = settings_of(tmp_path)
    latest = version(5)
    found = found_of(
        latest=latest, arn_before=latest.arn, config_before=(latest.arn,), config_changes=False
    )
    plan = make_plan(settings, found)
    assert not {"WriteArnFile", "UpdateConfig"} & set(kinds(plan))
    assert notes(plan)["arn file"] == f"{settings.arn_file} unchanged"
    assert notes(plan)["config"] == f"{settings.chalice_config} stage prod unchanged"
    # When publishing, the same findings cannot make them notes: the ARN is new.
    forced = make_plan(settings, found, force=True)
    assert {"WriteArnFile", "UpdateConfig"} <= set(kinds(forced))


def test_the_config_update_replaces_this_layers_entry_and_keeps_the_others(
    tmp_path: Path,
) -> None:
    settings = settings_of(tmp_path, stage="dev")
    latest = version(5)
    found = found_of(latest=latest, config_before=(OTHER_LAYER, f"{LAYER}:2"))
    update = only(make_plan(settings, found), p.UpdateConfig)
    assert update == p.UpdateConfig(
        settings.chalice_config,
        "dev",
        (OTHER_LAYER, f"{LAYER}:2"),
        latest.arn,
        REGION,
        settings.state_dir,
    )
    assert update.lines() == [
        f"config:    {settings.chalice_config} stage dev layers "
        f"{[OTHER_LAYER, f'{LAYER}:2']} -> {[OTHER_LAYER, latest.arn]}"
    ]
    # No config to update (--no-update-config): neither a step nor a note.
    plan = make_plan(settings, found_of(config_before=None))
    assert "UpdateConfig" not in kinds(plan) and "config" not in notes(plan)


# --- sharing, SSM, the function ---------------------------------------------------


@pytest.mark.parametrize("latest", [None, version(5)], ids=["publish", "unchanged"])
def test_share_with_grants_access_whether_or_not_a_version_is_published(
    tmp_path: Path, latest: LayerVersion | None
) -> None:
    settings = settings_of(tmp_path, share_with=[SHARE, "o-abcdef1234"])
    plan = make_plan(settings, found_of(latest=latest))
    assert only(plan, p.Share) == p.Share("demo-layer", (SHARE, "o-abcdef1234"))
    assert "Share" not in kinds(make_plan(settings_of(tmp_path), found_of(latest=latest)))


def test_the_ssm_parameter_is_put_when_a_version_is_published(tmp_path: Path) -> None:
    settings = settings_of(tmp_path, ssm_parameter="/layers/{name}/{python}/{arch}")
    plan = make_plan(
        settings, found_of(latest=version(4, code_sha256="b2xk"), ssm_before=f"{LAYER}:4")
    )
    assert only(plan, p.PutParameter) == p.PutParameter(
        "/layers/demo-layer/3.12/x86_64", REGION, f"{LAYER}:4"
    )
    assert "PutParameter" not in kinds(make_plan(settings_of(tmp_path), found_of()))


def test_the_ssm_parameter_is_put_for_an_unchanged_version_only_when_it_differs(
    tmp_path: Path,
) -> None:
    settings = settings_of(tmp_path, ssm_parameter="/layers/{name}")
    latest = version(5)
    same = make_plan(settings, found_of(latest=latest, ssm_before=latest.arn))
    assert "PutParameter" not in kinds(same)
    assert notes(same)["ssm"] == f"/layers/demo-layer in {REGION} unchanged"
    stale = make_plan(settings, found_of(latest=latest, ssm_before=f"{LAYER}:4"))
    assert only(stale, p.PutParameter).before == f"{LAYER}:4"
    missing = make_plan(settings, found_of(latest=latest, ssm_before=None))
    assert only(missing, p.PutParameter).before is None


def test_a_configured_function_is_pointed_at_the_version(tmp_path: Path) -> None:
    plan = make_plan(settings_of(tmp_path, function="api"), found_of())
    assert only(plan, p.WireFunction) == p.WireFunction("api", REGION)
    assert "WireFunction" not in kinds(make_plan(settings_of(tmp_path), found_of()))


# --- several targets --------------------------------------------------------------


def targets(tmp_path: Path, **raw: Any) -> list[LayerSettings]:
    """x86_64 and arm64 in one region: the per-target settings multi.py plans with."""
    settings = settings_of(tmp_path, architectures=["x86_64", "arm64"], function="api", **raw)
    return [arch.for_region(REGION) for arch in settings.per_architecture()]


def test_a_target_of_several_leaves_the_outputs_to_the_last_plan(tmp_path: Path) -> None:
    x86 = targets(tmp_path, share_with=[SHARE])[0]
    plan = make_plan(x86, found_of(), outputs=False)
    assert not OUTPUTS & set(kinds(plan))
    assert {"Upload", "Publish", "Share"} <= set(kinds(plan))
    assert kinds(plan)[-1] == "ReleaseLock"
    # The same target planned alone writes them.
    assert set(kinds(make_plan(x86, found_of()))) >= OUTPUTS


def test_the_outputs_plan_writes_the_arns_file_then_the_stage_targets_outputs(
    tmp_path: Path,
) -> None:
    x86 = targets(tmp_path)[0]
    labels = (f"x86_64 in {REGION}", f"arm64 in {REGION}")
    plan = make_outputs_plan(x86, found_of(arn_before=f"{LAYER}:4"), labels)
    assert kinds(plan) == ["WriteArnsFile", "WriteArnFile", "UpdateConfig", "WireFunction"]
    assert plan.steps[0] == p.WriteArnsFile(x86.arns_path, labels)
    assert x86.arns_path.name == "demo-layer.arns.json"
    assert plan.target == f"outputs: the ARN of demo-layer (python3.12, x86_64) in {REGION}"
    assert only(plan, p.WriteArnFile).arn is None  # the stage target publishes


def test_the_outputs_plan_uses_an_unchanged_version_unless_forced(tmp_path: Path) -> None:
    x86 = targets(tmp_path)[0]
    found = found_of(latest=version(5))
    reused = make_outputs_plan(x86, found, ("x86_64 in us-east-1",))
    assert only(reused, p.WriteArnFile).arn == f"{LAYER}:5"
    assert only(reused, p.UpdateConfig).arn == f"{LAYER}:5"
    forced = make_outputs_plan(x86, found, ("x86_64 in us-east-1",), force=True)
    assert only(forced, p.WriteArnFile).arn is None


def test_a_target_whose_bucket_another_plan_sets_up_only_takes_the_lock(tmp_path: Path) -> None:
    arm = targets(tmp_path)[1]
    found = found_of(bucket=s3.BucketState(BUCKET, exists=False), bucket_by=f"x86_64 in {REGION}")
    plan = make_plan(arm, found, outputs=False)
    assert not {"CreateBucket", "WarnBucket", "PutLifecycle"} & set(kinds(plan))
    assert "lifecycle" not in notes(plan)
    assert kinds(plan)[1:3] == ["Note", "AcquireLock"]
    assert plan.steps[1] == p.Note(
        "bucket", f"s3://{BUCKET}: set up by the x86_64 in {REGION} plan"
    )


def test_the_first_plan_in_a_bucket_sets_every_layers_lifecycle_rule_at_once(
    tmp_path: Path,
) -> None:
    x86, arm = targets(tmp_path)
    assert (x86.name, arm.name) == ("demo-layer", "demo-layer-arm64")
    found = found_of(lifecycle_names=(arm.name,))
    step = only(make_plan(x86, found, outputs=False), p.PutLifecycle)
    assert step.rules == (our_rule(x86), our_rule(arm))
    assert (step.change, step.ours) == ("create", 2)
    assert step.lines() == [
        "lifecycle: create rule expiring zips after 90 days (other rules kept: 0)"
    ]
    # Only one of them missing still puts both (the other kept as it was).
    partly = found_of(lifecycle_names=(arm.name,), lifecycle_rules=(our_rule(x86),))
    step = only(make_plan(x86, partly, outputs=False), p.PutLifecycle)
    assert step.rules == (our_rule(x86), our_rule(arm)) and step.change == "create"


# --- what --dry-run prints --------------------------------------------------------


def test_the_plans_lines_are_what_a_dry_run_prints(tmp_path: Path) -> None:
    settings = settings_of(tmp_path, share_with=[SHARE])
    found = found_of(
        bucket=s3.BucketState(BUCKET, exists=False), arn_before=f"{LAYER}:4", config_before=()
    )
    plan = make_plan(settings, found)
    lock = "layers/demo-layer/deploy.lock"
    assert plan.lines() == [
        f"build:     reuse {settings.zip_path} (inputs unchanged)",
        f"bucket:    create s3://{BUCKET} in {REGION} (private, encrypted)",
        f"lock:      s3://{BUCKET}/{lock} (waits up to 300 s for another deploy; one older "
        "than 30 min is taken over)",
        "lifecycle: create rule expiring zips after 90 days (other rules kept: 0)",
        f"upload:    s3://{BUCKET}/{KEY} (+ manifest beside it)",
        "publish:   new version of the layer",
        f"verify:    Lambda's CodeSha256 must be the local zip's ({MANIFEST.code_sha256})",
        f"share:     lambda:GetLayerVersion for {SHARE}",
        f"arn file:  {settings.arn_file}: {LAYER}:4 -> <the new version's ARN>",
        f"config:    {settings.chalice_config} stage prod layers [] -> ['<new ARN>']",
        f"unlock:    s3://{BUCKET}/{lock}",
    ]


def test_the_diff_is_printed_right_after_the_build_line(tmp_path: Path) -> None:
    old = json.loads(MANIFEST.to_json()) | {"code_sha256": "b2xk", "files": 9}
    diff = diff_manifests(old, json.loads(MANIFEST.to_json()), old_label="version 4")
    plan = make_plan(settings_of(tmp_path), found_of(diff=diff))
    assert plan.steps[1] == p.ShowDiff(diff)
    lines = plan.lines()
    assert lines[1] == "diff:      diff version 4 -> to"
    assert lines[1 : 1 + len(diff.lines())] == [f"diff:      {line}" for line in diff.lines()]
    assert "ShowDiff" not in kinds(make_plan(settings_of(tmp_path), found_of(diff=None)))
