"""The executor: runs a plan's steps in order, each exactly as planned, and nothing else.

One handler per step kind (`run_step`); what one step hands to the next (the upload, the
version) travels in `_Run`. The one-target and the several-target deploy both run their
plans here.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from dataclasses import dataclass

from layer_tasks.aws import deploy_lock, functions, lambda_, permissions, s3, ssm
from layer_tasks.aws.sbom_upload import upload_sbom
from layer_tasks.aws.session import Clients
from layer_tasks.deploy.model import Log, Outcome, Outdated
from layer_tasks.deploy.plan import (
    AcquireLock,
    CreateBucket,
    Note,
    Plan,
    Publish,
    PutLifecycle,
    PutParameter,
    ReleaseLock,
    Share,
    ShowDiff,
    Step,
    UpdateConfig,
    Upload,
    UploadSbom,
    UseVersion,
    VerifyCodeSha256,
    WarnBucket,
    WireFunction,
    WriteArnFile,
    WriteArnsFile,
)
from layer_tasks.model.arns import parse_layer_arn
from layer_tasks.model.manifest import Manifest
from layer_tasks.project import arn_file, chalice_config


@dataclass
class _Run:
    """What the steps of one plan hand to the next: the upload, then the version."""

    clients: Clients
    manifest: Manifest
    log: Log
    uploaded: s3.Uploaded | None = None
    version: lambda_.LayerVersion | None = None
    targets: tuple[Outcome, ...] = ()  # the outputs plan of several targets: their results
    given_arn: str | None = None  # ... and the ARN it writes
    lock: deploy_lock.Lock | None = None
    # When to write the lock again (monotonic seconds): at half its stale age, so a
    # long deploy never looks abandoned to another one.
    refresh_at: float = 0.0
    refresh_every: float = 0.0

    @property
    def arn(self) -> str:
        if self.version is None:
            assert self.given_arn is not None, "a publish or reuse step comes first"
            return self.given_arn
        return self.version.arn


@functools.singledispatch
def run_step(step: Step, run: _Run) -> None:
    raise TypeError(f"no executor for {type(step).__name__}")


@run_step.register
def _(step: Note, run: _Run) -> None:
    pass  # printed by the plan; nothing to do


@run_step.register
def _(step: ShowDiff, run: _Run) -> None:
    for line in step.lines():
        run.log(line)


@run_step.register
def _(step: UploadSbom, run: _Run) -> None:
    key = upload_sbom(
        run.clients.s3, step.bucket, step.zip_key, step.path, kms_key_id=step.kms_key_id
    )
    run.log(f"sbom: s3://{step.bucket}/{key}")


@run_step.register
def _(step: CreateBucket, run: _Run) -> None:
    notes = s3.create_bucket(
        run.clients.s3,
        step.bucket,
        step.region,
        kms_key_id=step.kms_key_id,
        plain_http=not step.tls_policy,
    )
    run.log(f"bucket: created s3://{step.bucket} (private, encrypted)")
    for note in notes:
        run.log(f"bucket: {note}")


@run_step.register
def _(step: WarnBucket, run: _Run) -> None:
    for difference in step.differences:
        run.log(f"bucket: warning: s3://{step.bucket} differs from the defaults: {difference}")


@run_step.register
def _(step: AcquireLock, run: _Run) -> None:
    run.lock = deploy_lock.acquire(
        run.clients.s3,
        step.bucket,
        step.key,
        wait_seconds=step.wait_seconds,
        stale_after=dt.timedelta(minutes=step.stale_minutes),
        kms_key_id=step.kms_key_id,
        log=run.log,
    )
    run.log(f"lock: s3://{step.bucket}/{step.key} held")
    run.refresh_every = step.stale_minutes * 60 / 2
    run.refresh_at = time.monotonic() + run.refresh_every
    latest = lambda_.latest_layer_version(run.clients.lambda_, run.manifest.name)
    if (latest.version if latest else None) != step.seen_latest:
        raise Outdated


@run_step.register
def _(step: ReleaseLock, run: _Run) -> None:
    if run.lock is not None:
        run.lock.release(run.log)
        run.lock = None
        run.log(f"unlock: s3://{step.bucket}/{step.key}")


@run_step.register
def _(step: PutLifecycle, run: _Run) -> None:
    s3.put_lifecycle(run.clients.s3, step.bucket, list(step.rules))
    run.log(f"lifecycle: {step.change}d rule, zips expire after {step.days} days")


@run_step.register
def _(step: Upload, run: _Run) -> None:
    run.uploaded = s3.upload_layer(
        run.clients.uploads,  # the client with the upload's long read timeout
        step.bucket,
        step.key,
        step.zip_path,
        run.manifest,
        kms_key_id=step.kms_key_id,
        log=run.log,
    )
    run.log(f"upload: s3://{step.bucket}/{step.key}")


@run_step.register
def _(step: Publish, run: _Run) -> None:
    object_version = run.uploaded.version_id if run.uploaded else None
    # A lost answer is never published twice: a matching new version is adopted (never
    # the aligning version this plan published just before, with the same zip).
    done = lambda_.publish_or_adopt(
        run.clients.lambda_,
        step.params,
        run.manifest,
        object_version=object_version,
        newer_than=run.version.version if run.version else 0,
        log=run.log,
    )
    run.version = done.version
    what = " (aligning the regions' numbers)" if step.align else ""
    run.log(f"publish: version {run.version.version}{what}{' (adopted)' if done.adopted else ''}")


@run_step.register
def _(step: VerifyCodeSha256, run: _Run) -> None:
    assert run.version is not None
    lambda_.check_code_sha256(run.version, step.expected)
    run.log(f"verify: CodeSha256 {step.expected} matches the local zip")


@run_step.register
def _(step: UseVersion, run: _Run) -> None:
    run.version = step.version
    run.log(f"publish: skipped, unchanged, version {step.version.version}")


@run_step.register
def _(step: Share, run: _Run) -> None:
    assert run.version is not None
    for grant in permissions.share_with(
        run.clients.lambda_, step.name, run.version.version, step.entries, warn=run.log
    ):
        run.log(f"share: version {run.version.version} readable by {grant.principal}")


@run_step.register
def _(step: PutParameter, run: _Run) -> None:
    assert run.clients.ssm is not None, "survey checks the SSM client"
    ssm.write_parameter(run.clients.ssm, step.name, run.arn)
    run.log(f"ssm: {step.name} in {step.region} = {run.arn}")


@run_step.register
def _(step: WriteArnsFile, run: _Run) -> None:
    if arn_file.write_arns(step.path, [t.entry() for t in run.targets]):
        run.log(f"arns file: {step.path}")


@run_step.register
def _(step: WriteArnFile, run: _Run) -> None:
    arn_file.write_arn(step.path, run.arn)
    run.log(f"arn file: {step.path}")


@run_step.register
def _(step: UpdateConfig, run: _Run) -> None:
    before, after = chalice_config.set_stage_layers(
        step.path,
        step.stage,
        step.after(run.arn),
        region=step.region,
        config_lock_dir=step.config_lock_dir,
    )
    if before != after:
        run.log(f"config: {step.path} stage {step.stage}: {before} -> {after}")


@run_step.register
def _(step: WireFunction, run: _Run) -> None:
    before, after = functions.apply_function_layers(
        run.clients.lambda_, step.function, [run.arn], region=step.region
    )
    if before != after:
        run.log(f"function: {step.function} layers {before} -> {after}")


def execute(
    plan: Plan,
    manifest: Manifest,
    clients: Clients,
    *,
    log: Log = print,
    arn: str | None = None,
    targets: tuple[Outcome, ...] = (),
) -> Outcome:
    """Run the plan's steps in order, each exactly as planned, and nothing else.

    ``arn`` and ``targets``: the outputs plan of several targets, which writes the
    stage target's ARN and every target's."""
    run = _Run(clients=clients, manifest=manifest, log=log, given_arn=arn, targets=targets)
    try:
        for step in plan.steps:
            run_step(step, run)
            if run.lock is not None and time.monotonic() >= run.refresh_at:
                run.lock.refresh()  # not ours any more: stops before the next step
                run.refresh_at = time.monotonic() + run.refresh_every
    finally:
        if run.lock is not None:  # a step failed while the lock was held
            run.lock.release(log)
    return Outcome(
        plan=plan,
        arn=run.arn,
        version=run.version.version if run.version else parse_layer_arn(run.arn).version,
        published=plan.publishes or any(t.published for t in targets),
        manifest=manifest,
        targets=targets,
    )
