"""The deploy plan: what a deploy will do, as an ordered list of small value objects.

`make_plan` is pure: from the settings and what the survey read (`Found`) it returns a
`Plan` whose steps the executor (`deploy.execute`) runs in order, each exactly as
written here: the bucket to create, the key to upload to, the parameters to publish
with, the files to write. ``--dry-run`` prints the same steps. Several targets (regions,
architectures) are several plans run by the same executor.

A step that changes nothing (the bucket exists, the config already points there) is a
`Note`: it is printed and the executor skips it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layer_tasks.aws import deploy_lock, lambda_, s3
from layer_tasks.aws.sbom_upload import sbom_key
from layer_tasks.config.platform import DIRECT_UPLOAD_LIMIT_BYTES
from layer_tasks.config.settings import LayerSettings
from layer_tasks.model.app import AppPackage
from layer_tasks.model.arns import replace_layer_versions
from layer_tasks.model.manifest import Manifest
from layer_tasks.report.diff import LayerDiff

NEW_ARN = "<the new version's ARN>"


@dataclass(frozen=True)
class Step:
    """One thing the deploy does; ``lines()`` is how the plan prints it."""

    def lines(self) -> list[str]:
        raise NotImplementedError


@dataclass(frozen=True)
class Note(Step):
    """Printed, never run: what stays as it is, and why."""

    label: str
    text: str

    def lines(self) -> list[str]:
        return [f"{self.label + ':':<10} {self.text}"]


@dataclass(frozen=True)
class ShowDiff(Step):
    """What this deploy changes against the latest published version (`layer.diff`):
    printed by the plan and, in a real run, before anything is uploaded."""

    diff: LayerDiff

    def lines(self) -> list[str]:
        return [f"diff:      {line}" for line in self.diff.lines()]


@dataclass(frozen=True)
class CreateBucket(Step):
    bucket: str
    region: str
    kms_key_id: str
    tls_policy: bool

    def lines(self) -> list[str]:
        extra = "" if self.tls_policy else "; TLS-only policy skipped (plain-http endpoint)"
        return [
            f"bucket:    create s3://{self.bucket} in {self.region} (private, encrypted{extra})"
        ]


@dataclass(frozen=True)
class WarnBucket(Step):
    """An existing bucket that lacks some of our defaults: warned about, not changed."""

    bucket: str
    differences: tuple[str, ...]

    def lines(self) -> list[str]:
        return [
            f"bucket:    s3://{self.bucket} exists (settings left as they are)",
            *(f"           differs from defaults: {d}" for d in self.differences),
        ]


@dataclass(frozen=True)
class AcquireLock(Step):
    """Take the deploy lock (S3 conditional write) before anything is uploaded; if the
    layer's latest version is no longer ``seen_latest`` once it is held, another deploy
    published meanwhile and the deploy is planned again."""

    bucket: str
    key: str
    wait_seconds: int
    stale_minutes: int
    kms_key_id: str
    seen_latest: int | None

    def lines(self) -> list[str]:
        return [
            f"lock:      s3://{self.bucket}/{self.key} (waits up to {self.wait_seconds} s for "
            f"another deploy; one older than {self.stale_minutes} min is taken over)"
        ]


@dataclass(frozen=True)
class ReleaseLock(Step):
    bucket: str
    key: str

    def lines(self) -> list[str]:
        return [f"unlock:    s3://{self.bucket}/{self.key}"]


@dataclass(frozen=True)
class PutLifecycle(Step):
    bucket: str
    rules: tuple[dict[str, Any], ...]
    change: str  # "create" or "update"
    days: int
    ours: int = 1  # how many of the rules are this deploy's (one per layer name)

    def lines(self) -> list[str]:
        return [
            f"lifecycle: {self.change} rule expiring zips after {self.days} days "
            f"(other rules kept: {len(self.rules) - self.ours})"
        ]


@dataclass(frozen=True)
class Upload(Step):
    bucket: str
    key: str
    zip_path: Path
    kms_key_id: str

    def lines(self) -> list[str]:
        return [f"upload:    s3://{self.bucket}/{self.key} (+ manifest beside it)"]


@dataclass(frozen=True)
class UploadSbom(Step):
    """The CycloneDX SBOM of the build, beside the zip (``<...>/<name>.cdx.json``)."""

    bucket: str
    zip_key: str
    path: Path
    kms_key_id: str

    def lines(self) -> list[str]:
        return [f"sbom:      s3://{self.bucket}/{sbom_key(self.zip_key)}"]


@dataclass(frozen=True)
class Publish(Step):
    """PublishLayerVersion with exactly ``params`` (its S3 key is the upload's)."""

    params: dict[str, Any]
    forced: bool = False
    # A version published only so that this region's numbers catch up with the others'
    # (layer.align_versions): the same zip, one number earlier.
    align: bool = False

    def lines(self) -> list[str]:
        if self.align:
            return [
                "publish:   the same zip once first: this region is one version behind "
                "(layer.align_versions)"
            ]
        why = " (--force)" if self.forced else ""
        return [f"publish:   new version of the layer{why}"]


@dataclass(frozen=True)
class VerifyCodeSha256(Step):
    expected: str

    def lines(self) -> list[str]:
        return [f"verify:    Lambda's CodeSha256 must be the local zip's ({self.expected})"]


@dataclass(frozen=True)
class PutParameter(Step):
    """The version's ARN into an SSM parameter of the region (layer.ssm_parameter)."""

    name: str
    region: str
    before: str | None

    def lines(self) -> list[str]:
        return [f"ssm:       {self.name} in {self.region}: {self.before or '(none)'} -> {NEW_ARN}"]


@dataclass(frozen=True)
class WriteArnsFile(Step):
    """Every target's ARN (architecture x region) in ``<dist_dir>/<name>.arns.json``."""

    path: Path
    targets: tuple[str, ...]

    def lines(self) -> list[str]:
        return [f"arns file: {self.path}: the ARNs of {', '.join(self.targets)}"]


@dataclass(frozen=True)
class UseVersion(Step):
    """The latest published version already holds this zip: it is the target."""

    version: lambda_.LayerVersion

    def lines(self) -> list[str]:
        return [
            "upload:    nothing",
            f"publish:   skip, unchanged, version {self.version.version}",
        ]


@dataclass(frozen=True)
class Share(Step):
    name: str
    entries: tuple[str, ...]

    def lines(self) -> list[str]:
        return [f"share:     lambda:GetLayerVersion for {', '.join(self.entries)}"]


@dataclass(frozen=True)
class WriteArnFile(Step):
    path: Path
    before: str | None
    arn: str | None  # None: the version published by this plan

    def lines(self) -> list[str]:
        return [f"arn file:  {self.path}: {self.before or '(none)'} -> {self.arn or NEW_ARN}"]


@dataclass(frozen=True)
class UpdateConfig(Step):
    path: Path
    stage: str
    before: tuple[str, ...]
    arn: str | None  # None: the version published by this plan
    region: str
    config_lock_dir: Path

    def after(self, arn: str) -> list[str]:
        return replace_layer_versions(list(self.before), [arn])

    def lines(self) -> list[str]:
        after = self.after(self.arn) if self.arn else ["<new ARN>"]
        return [f"config:    {self.path} stage {self.stage} layers {list(self.before)} -> {after}"]


@dataclass(frozen=True)
class WireFunction(Step):
    function: str
    region: str

    def lines(self) -> list[str]:
        return [f"function:  point {self.function} at the layer version"]


@dataclass(frozen=True)
class Plan:
    """The steps of one target's deploy, in the order they run."""

    target: str
    steps: tuple[Step, ...]

    def lines(self) -> list[str]:
        return [line for step in self.steps for line in step.lines()]

    @property
    def publishes(self) -> bool:
        return any(isinstance(step, Publish) for step in self.steps)

    @property
    def unchanged(self) -> lambda_.LayerVersion | None:
        """The version that already holds this zip, when nothing is published."""
        return next((s.version for s in self.steps if isinstance(s, UseVersion)), None)


@dataclass(frozen=True)
class Found:
    """What the survey (`survey.survey`) read before planning: local files and AWS; nothing changed yet."""

    build: str  # "reuse", "rebuild", "existing zip" (the publish task)
    manifest: Manifest | None  # None: a dry run that would rebuild
    region: str
    plain_http: bool
    latest: lambda_.LayerVersion | None
    bucket: s3.BucketState | None  # None: not read, because nothing will be uploaded
    lifecycle_rules: tuple[dict[str, Any], ...] = ()
    key: str | None = None  # the free key the upload will use
    arn_before: str | None = None
    config_before: tuple[str, ...] | None = None  # None: the config is not updated
    config_changes: bool = True  # with the known target ARN: would the file change?
    diff: LayerDiff | None = None  # against the latest version; None: not known
    sbom: Path | None = None  # the build's SBOM, uploaded beside the zip
    notes: tuple[str, ...] = field(default=())
    # With several targets: another plan of the same deploy (its label) creates the
    # bucket and sets its lifecycle; this one only uses it.
    bucket_by: str = ""
    # With several architectures in one bucket: their lifecycle rules are set together.
    lifecycle_names: tuple[str, ...] = ()
    fillers: int = 0  # versions published first to catch up (layer.align_versions)
    ssm_before: str | None = None  # the SSM parameter's value (layer.ssm_parameter)
    # The Chalice app's own package for this target, counted in the budget; None: no app.
    app: AppPackage | None = None


def unchanged_version(found: Found) -> lambda_.LayerVersion | None:
    """The latest version when it already holds exactly this zip."""
    if found.latest and found.manifest and lambda_.matches(found.latest, found.manifest):
        return found.latest
    return None


def make_plan(
    settings: LayerSettings, found: Found, *, force: bool = False, outputs: bool = True
) -> Plan:
    """Pure: the steps of this deploy, from the settings and what the survey found.

    ``outputs=False``: one target of several; the ARN file, config and function are the
    deploy's last plan (`make_outputs_plan`), run only once every target published."""
    unchanged = unchanged_version(found)
    publish = force or unchanged is None
    steps: list[Step] = [_build_note(found, settings.zip_path)]
    if found.diff is not None:
        steps.append(ShowDiff(found.diff))
    lock = None
    if publish:
        lock = AcquireLock(
            settings.bucket,
            deploy_lock.lock_key(settings.prefix, settings.name),
            settings.lock_wait_seconds,
            settings.lock_timeout_minutes,
            settings.kms_key_id,
            found.latest.version if found.latest else None,
        )
        # The lock lives in the bucket: after the bucket, before anything else changes.
        if found.bucket_by:
            steps += [
                Note("bucket", f"s3://{settings.bucket}: set up by the {found.bucket_by} plan"),
                lock,
            ]
        else:
            steps += [_bucket_step(settings, found), lock, _lifecycle_step(settings, found)]
        steps.append(
            Upload(settings.bucket, found.key or "", settings.zip_path, settings.kms_key_id)
        )
        if found.sbom is not None:
            steps.append(
                UploadSbom(settings.bucket, found.key or "", found.sbom, settings.kms_key_id)
            )
        params = _publish_params(settings, found)
        steps += [Publish(params, align=True)] * found.fillers
        steps.append(Publish(params, forced=unchanged is not None))
        if found.manifest is not None:
            steps.append(VerifyCodeSha256(found.manifest.code_sha256))
    else:
        assert unchanged is not None
        steps += [
            Note("bucket", f"s3://{settings.bucket} not read (nothing to upload)"),
            Note("lifecycle", "not read (nothing to upload; `inv layer.lifecycle` sets it)"),
            UseVersion(unchanged),
        ]
    if settings.share_with:
        # Also for an unchanged version: the grants are idempotent, and a share_with
        # added since the last publish then takes effect without a new version.
        steps.append(Share(settings.name, settings.share_with))
    target_arn = None if publish else unchanged.arn if unchanged else None
    if settings.ssm_name:
        if target_arn is not None and found.ssm_before == target_arn:
            steps.append(Note("ssm", f"{settings.ssm_name} in {found.region} unchanged"))
        else:
            steps.append(PutParameter(settings.ssm_name, found.region, found.ssm_before))
    if outputs:
        steps += _output_steps(settings, found, target_arn)
    if lock is not None:
        steps.append(ReleaseLock(lock.bucket, lock.key))
    steps += [Note("note", text) for text in _notes(found)]
    return Plan(target=_target(settings, found), steps=tuple(steps))


def make_outputs_plan(
    settings: LayerSettings, found: Found, targets: tuple[str, ...], *, force: bool = False
) -> Plan:
    """The last plan of a deploy to several targets: the local files and the function,
    from the target whose ARN the stage uses (``settings``/``found`` are that target's)."""
    unchanged = unchanged_version(found)
    target_arn = None if force or unchanged is None else unchanged.arn
    steps = [
        WriteArnsFile(settings.arns_path, targets),
        *_output_steps(settings, found, target_arn),
    ]
    return Plan(target=f"outputs: the ARN of {_target(settings, found)}", steps=tuple(steps))


def _output_steps(settings: LayerSettings, found: Found, target_arn: str | None) -> list[Step]:
    steps: list[Step] = []
    if target_arn is not None and found.arn_before == target_arn:
        steps.append(Note("arn file", f"{settings.arn_file} unchanged"))
    else:
        steps.append(WriteArnFile(settings.arn_file, found.arn_before, target_arn))
    if found.config_before is not None:
        if target_arn is not None and not found.config_changes:
            steps.append(
                Note("config", f"{settings.chalice_config} stage {settings.stage} unchanged")
            )
        else:
            steps.append(
                UpdateConfig(
                    settings.chalice_config,
                    settings.stage,
                    found.config_before,
                    target_arn,
                    found.region,
                    settings.state_dir,
                )
            )
    if settings.function:
        steps.append(WireFunction(settings.function, found.region))
    return steps


def _target(settings: LayerSettings, found: Found) -> str:
    return f"{settings.name} ({settings.runtime}, {settings.architecture}) in {found.region}"


def _build_note(found: Found, zip_path: Path) -> Note:
    text = {
        "reuse": f"reuse {zip_path} (inputs unchanged)",
        "rebuild": f"rebuild {zip_path} (inputs changed or no build yet)",
    }.get(found.build, f"none, publish the existing {zip_path}")
    return Note("build", text)


def _bucket_step(settings: LayerSettings, found: Found) -> Step:
    bucket = found.bucket or s3.BucketState(settings.bucket, exists=False)
    if not bucket.exists:
        return CreateBucket(
            settings.bucket, found.region, settings.kms_key_id, not found.plain_http
        )
    if bucket.differences:
        return WarnBucket(settings.bucket, bucket.differences)
    return Note("bucket", f"s3://{settings.bucket} exists (settings left as they are)")


def _lifecycle_step(settings: LayerSettings, found: Found) -> Step:
    rules, change = list(found.lifecycle_rules), None
    names = (settings.name, *found.lifecycle_names)
    for name in names:
        rule = s3.lifecycle_rule(settings.prefix, name, settings.lifecycle_days)
        rules, changed = s3.merge_lifecycle(rules, rule)
        change = change or changed
    if change:
        return PutLifecycle(
            settings.bucket, tuple(rules), change, settings.lifecycle_days, ours=len(names)
        )
    return Note("lifecycle", f"unchanged ({settings.lifecycle_days} days)")


def _publish_params(settings: LayerSettings, found: Found) -> dict[str, Any]:
    if found.manifest is None:  # a dry run that would rebuild: the hash is not known yet
        return {"LayerName": settings.name, "Content": {"S3Bucket": settings.bucket}}
    return lambda_.publish_params(
        found.manifest,
        name=settings.name,
        bucket=settings.bucket,
        key=found.key or "",
        license_info=settings.license_info,
    )


def _notes(found: Found) -> list[str]:
    notes = list(found.notes)
    if found.manifest is not None and found.manifest.zip_bytes > DIRECT_UPLOAD_LIMIT_BYTES:
        notes.append(
            f"zip is {found.manifest.zip_bytes:,} bytes, over the 50 MB direct-upload limit: "
            "publishing from S3 is what makes that work"
        )
    return notes
