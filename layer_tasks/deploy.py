"""Deploy: plan what will happen (pure data), then apply it step by step.

    build (or reuse) -> budget -> bucket -> lifecycle -> upload -> publish
        -> verify CodeSha256 -> ARN file -> Chalice config (-> function)

`make_plan` is pure: it takes what the read calls found and returns a `Plan`;
``--dry-run`` prints it and stops. `apply_plan` runs the steps in order; the ARN file
and the config are written only after a publish whose CodeSha256 matched the local
zip, so any failure before that leaves both as they were.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import arn_file, chalice_config
from .archive import code_sha256
from .arns import replace_layer_versions
from .aws import functions, lambda_, permissions, s3
from .aws.session import Clients
from .errors import LayerError
from .manifest import Manifest
from .settings import LayerSettings, validate_bucket_name

Log = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    """What a deploy will do; every field is plain data so it prints and compares."""

    build: str  # "reuse", "rebuild", "existing zip" (publish task)
    zip_path: Path
    bucket: str
    region: str
    create_bucket: bool
    bucket_differences: tuple[str, ...]
    tls_policy: bool
    lifecycle_change: str | None  # "create", "update" or None
    lifecycle_days: int
    lifecycle_rules: tuple[dict[str, Any], ...]
    object_key: str | None  # None: nothing to upload
    publish: bool
    unchanged: lambda_.LayerVersion | None  # the version that already holds this zip
    arn_file: Path
    arn_before: str | None
    update_config: bool
    config_path: Path
    stage: str
    config_before: tuple[str, ...]
    function: str = ""
    share_with: tuple[str, ...] = ()
    bucket_checked: bool = True
    notes: tuple[str, ...] = field(default=())

    @property
    def target_arn(self) -> str | None:
        """The ARN the outputs will point at, when it is already known."""
        return self.unchanged.arn if self.unchanged and not self.publish else None

    def config_after(self, arn: str) -> list[str]:
        return replace_layer_versions(list(self.config_before), [arn])

    def lines(self) -> list[str]:
        out = []
        if self.build == "reuse":
            out.append(f"build:     reuse {self.zip_path} (inputs unchanged)")
        elif self.build == "rebuild":
            out.append(f"build:     rebuild {self.zip_path} (inputs changed or no build yet)")
        else:
            out.append(f"build:     none, publish the existing {self.zip_path}")
        if not self.bucket_checked:
            out.append(f"bucket:    s3://{self.bucket} not read (nothing to upload)")
        elif self.create_bucket:
            extra = "" if self.tls_policy else "; TLS-only policy skipped (plain-http endpoint)"
            out.append(
                f"bucket:    create s3://{self.bucket} in {self.region} (private, encrypted{extra})"
            )
        else:
            out.append(f"bucket:    s3://{self.bucket} exists (settings left as they are)")
            out.extend(f"           differs from defaults: {d}" for d in self.bucket_differences)
        if not self.bucket_checked:
            out.append("lifecycle: not read (nothing to upload; `inv layer.lifecycle` sets it)")
        elif self.lifecycle_change:
            out.append(
                f"lifecycle: {self.lifecycle_change} rule expiring zips after "
                f"{self.lifecycle_days} days (other rules kept: {len(self.lifecycle_rules) - 1})"
            )
        else:
            out.append(f"lifecycle: unchanged ({self.lifecycle_days} days)")
        if self.publish:
            out.append(f"upload:    s3://{self.bucket}/{self.object_key} (+ manifest beside it)")
            why = " (--force)" if self.unchanged else ""
            out.append(f"publish:   new version of the layer{why}")
        else:
            assert self.unchanged is not None
            out.append("upload:    nothing")
            out.append(f"publish:   skip, unchanged, version {self.unchanged.version}")
        target = self.target_arn or "<the new version's ARN>"
        if self.arn_before == target:
            out.append(f"arn file:  {self.arn_file} unchanged")
        else:
            out.append(f"arn file:  {self.arn_file}: {self.arn_before or '(none)'} -> {target}")
        if self.update_config:
            after = self.config_after(self.target_arn) if self.target_arn else ["<new ARN>"]
            if list(self.config_before) == after:
                out.append(f"config:    {self.config_path} stage {self.stage} unchanged")
            else:
                out.append(
                    f"config:    {self.config_path} stage {self.stage} layers "
                    f"{list(self.config_before)} -> {after}"
                )
        if self.function:
            out.append(f"function:  point {self.function} at the layer version")
        if self.share_with:
            out.append(f"share:     lambda:GetLayerVersion for {', '.join(self.share_with)}")
        out.extend(f"note:      {n}" for n in self.notes)
        return out


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    arn: str | None  # None after a dry run
    version: int | None
    published: bool


def make_plan(
    settings: LayerSettings,
    *,
    build: str,
    manifest: Manifest | None,
    bucket: s3.BucketState,
    plain_http: bool,
    region: str,
    lifecycle_rules: Sequence[dict[str, Any]],
    latest: lambda_.LayerVersion | None,
    arn_before: str | None,
    config_before: Sequence[str],
    update_config: bool,
    force: bool,
    when: dt.datetime,
    object_key: str | None = None,
    bucket_checked: bool = True,
) -> Plan:
    """Pure: what to do, from what the read calls found. ``manifest`` is None when a
    dry run would rebuild (the new zip's hash is not known yet)."""
    rule = s3.lifecycle_rule(settings.prefix, settings.name, settings.lifecycle_days)
    rules, change = s3.merge_lifecycle(list(lifecycle_rules), rule)
    if not bucket_checked:
        change = None  # not read, so not changed: `inv layer.lifecycle` applies it alone
    unchanged = latest if (latest and manifest and lambda_.matches(latest, manifest)) else None
    publish = force or unchanged is None
    key = None
    if publish:
        key = object_key or s3.object_key(settings.prefix, settings.name, when)
    notes = []
    if manifest is not None and manifest.zip_bytes > 50 * 1024 * 1024:
        notes.append(
            f"zip is {manifest.zip_bytes:,} bytes, over the 50 MB direct-upload limit: "
            "publishing from S3 is what makes that work"
        )
    return Plan(
        build=build,
        zip_path=settings.zip_path,
        bucket=settings.bucket,
        region=region,
        create_bucket=not bucket.exists,
        bucket_differences=bucket.differences,
        tls_policy=not plain_http,
        lifecycle_change=change,
        lifecycle_days=settings.lifecycle_days,
        lifecycle_rules=tuple(rules),
        bucket_checked=bucket_checked,
        object_key=key,
        publish=publish,
        unchanged=unchanged,
        arn_file=settings.arn_file,
        arn_before=arn_before,
        update_config=update_config,
        config_path=settings.chalice_config,
        stage=settings.stage,
        config_before=tuple(config_before),
        function=settings.function,
        share_with=settings.share_with,
        notes=tuple(notes),
    )


def _load_existing_build(settings: LayerSettings) -> Manifest:
    manifest = Manifest.load(settings.manifest_path)
    if not settings.zip_path.is_file():
        raise LayerError(f"no layer zip at {settings.zip_path}: run `inv layer.build` first")
    if code_sha256(settings.zip_path) != manifest.code_sha256:
        raise LayerError(
            f"{settings.zip_path} does not match {settings.manifest_path} (CodeSha256 differs): "
            "run `inv layer.build` again"
        )
    return manifest


def _check_budget(manifest: Manifest, settings: LayerSettings) -> None:
    from .footprint import over_budget_message

    message = over_budget_message(manifest, settings)
    if message:
        raise LayerError(f"{message} (nothing was uploaded)")


def prepare(
    settings: LayerSettings,
    clients: Clients,
    *,
    build: bool = True,
    force: bool = False,
    dry_run: bool = False,
    update_config: bool = True,
    log: Log = print,
    when: dt.datetime | None = None,
) -> tuple[Plan, Manifest | None]:
    """Pre-flight and plan: build (unless dry run), budget, then read calls only."""
    validate_bucket_name(settings.bucket)
    when = when or dt.datetime.now(dt.timezone.utc)
    manifest: Manifest | None
    if not build:
        manifest, build_step = _load_existing_build(settings), "existing zip"
    elif dry_run:
        from .build import current_manifest

        manifest = current_manifest(settings)
        build_step = "reuse" if manifest is not None else "rebuild"
    else:
        from .build import build_layer

        result = build_layer(settings, log=log)
        manifest, build_step = result.manifest, "reuse" if result.reused else "rebuild"
    if manifest is not None:
        _check_budget(manifest, settings)
    # Reading the outputs first: a broken ARN file or config fails before any upload.
    arn_before = arn_file.read_arn(settings.arn_file)
    config_before: list[str] = []
    if update_config:
        config_before = chalice_config.read_stage_layers(settings.chalice_config, settings.stage)
    latest = lambda_.latest_layer_version(clients.lambda_, settings.name)
    unchanged = bool(latest and manifest and lambda_.matches(latest, manifest))
    if unchanged and not force:
        # Nothing will be uploaded: the bucket is not needed, so it is not read either
        # (a no-change deploy makes only the calls that tell it is unchanged).
        bucket, rules, checked = s3.BucketState(settings.bucket, exists=True), [], False
    else:
        bucket = s3.inspect_bucket(
            clients.s3, settings.bucket, clients.region, plain_http=clients.plain_http
        )
        rules = s3.get_lifecycle_rules(clients.s3, settings.bucket) if bucket.exists else []
        checked = True
    plan = make_plan(
        settings,
        build=build_step,
        manifest=manifest,
        bucket=bucket,
        plain_http=clients.plain_http,
        region=clients.region,
        lifecycle_rules=rules,
        latest=latest,
        arn_before=arn_before,
        config_before=config_before,
        update_config=update_config,
        force=force,
        when=when,
        bucket_checked=checked,
    )
    return plan, manifest


def apply_plan(
    plan: Plan,
    manifest: Manifest,
    settings: LayerSettings,
    clients: Clients,
    *,
    create_stage: bool = False,
    log: Log = print,
    when: dt.datetime | None = None,
) -> Outcome:
    """Run the plan's steps in order; outputs are written only after a verified publish."""
    if plan.create_bucket:
        notes = s3.create_bucket(
            clients.s3,
            plan.bucket,
            plan.region,
            kms_key_id=settings.kms_key_id,
            plain_http=clients.plain_http,
        )
        log(f"bucket: created s3://{plan.bucket} (private, encrypted)")
        for note in notes:
            log(f"bucket: {note}")
    for difference in plan.bucket_differences:
        log(f"bucket: warning: s3://{plan.bucket} differs from the defaults: {difference}")
    if plan.lifecycle_change:
        s3.put_lifecycle(clients.s3, plan.bucket, list(plan.lifecycle_rules))
        log(
            f"lifecycle: {plan.lifecycle_change}d rule, "
            f"zips expire after {plan.lifecycle_days} days"
        )

    if plan.publish:
        uploaded = s3.upload_layer(
            clients.uploads,
            plan.bucket,
            settings.prefix,
            settings.zip_path,
            manifest,
            when=when,
            kms_key_id=settings.kms_key_id,
            log=log,
        )
        log(f"upload: s3://{uploaded.bucket}/{uploaded.key}")
        version = lambda_.publish_from_s3(
            clients.lambda_,
            name=settings.name,
            bucket=uploaded.bucket,
            key=uploaded.key,
            manifest=manifest,
            object_version=uploaded.version_id,
            license_info=settings.license_info,
        )
        log(f"publish: version {version.version}, CodeSha256 {version.code_sha256} verified")
    else:
        assert plan.unchanged is not None
        version = plan.unchanged
        log(f"publish: skipped, unchanged, version {version.version}")

    if settings.share_with:
        # Also for an unchanged version: the grants are idempotent, and a share_with
        # added since the last publish then takes effect without a new version.
        for grant in permissions.share_with(
            clients.lambda_, settings.name, version.version, settings.share_with, warn=log
        ):
            log(f"share: version {version.version} readable by {grant.principal}")

    if plan.arn_before != version.arn:
        arn_file.write_arn(settings.arn_file, version.arn)
        log(f"arn file: {settings.arn_file}")
    if plan.update_config:
        before, after = chalice_config.set_stage_layers(
            settings.chalice_config,
            settings.stage,
            plan.config_after(version.arn),
            region=clients.region,
            create_stage=create_stage,
            lock_dir=settings.state_dir,
        )
        if before != after:
            log(f"config: {settings.chalice_config} stage {settings.stage}: {before} -> {after}")
    if settings.function:
        before_fn, after_fn = functions.apply_function_layers(
            clients.lambda_, settings.function, [version.arn], region=clients.region
        )
        if before_fn != after_fn:
            log(f"function: {settings.function} layers {before_fn} -> {after_fn}")
    return Outcome(plan=plan, arn=version.arn, version=version.version, published=plan.publish)


def deploy(
    settings: LayerSettings,
    clients: Clients,
    *,
    build: bool = True,
    force: bool = False,
    dry_run: bool = False,
    update_config: bool = True,
    create_stage: bool = False,
    log: Log = print,
    when: dt.datetime | None = None,
) -> Outcome:
    """The whole pipeline; with ``dry_run`` only the plan (printed through ``log``)."""
    # One timestamp for the plan's object key and the upload's.
    when = when or dt.datetime.now(dt.timezone.utc)
    plan, manifest = prepare(
        settings,
        clients,
        build=build,
        force=force,
        dry_run=dry_run,
        update_config=update_config,
        log=log,
        when=when,
    )
    if dry_run:
        log("plan (dry run, nothing changed):")
        for line in plan.lines():
            log(f"  {line}")
        return Outcome(plan=plan, arn=None, version=None, published=False)
    assert manifest is not None
    return apply_plan(
        plan, manifest, settings, clients, create_stage=create_stage, log=log, when=when
    )
