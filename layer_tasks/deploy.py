"""Deploy: pre-flight, plan, execute.

    prepare:  every check that can run before a change (settings, sharing entries,
              build or reuse, budget, ARN file, Chalice config, function), then the
              read calls (latest version; the bucket, its lifecycle and a free key
              only when something will be uploaded)
    plan:     `plan.make_plan`, pure: the ordered steps
    execute:  each step exactly as planned; the ARN file and the config come after a
              publish whose CodeSha256 matched the local zip

A failed check leaves no new version, no new S3 object, the bucket's settings and every
local file as they were. ``--dry-run`` prints the plan's steps and stops.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from . import arn_file, chalice_config
from .archive import code_sha256
from .arns import parse_layer_arn
from .aws import deploy_lock, functions, lambda_, permissions, s3, ssm
from .aws.sbom_upload import upload_sbom
from .aws.session import Clients
from .compare import deploy_diff
from .diff import LayerDiff
from .errors import LayerError
from .manifest import Manifest
from .plan import (
    AcquireLock,
    CreateBucket,
    Found,
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
    make_plan,
    unchanged_version,
)
from .sbom import sbom_beside
from .settings import LayerSettings, validate_bucket_name

Log = Callable[[str], None]
# How often a deploy plans again after waiting for the lock (each time, another deploy
# published in between) before it gives up.
REPLANS = 3


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    arn: str | None  # None after a dry run
    version: int | None
    published: bool
    manifest: Manifest | None = None
    # A deploy to several targets: each target's outcome, in plan order (this one is
    # the outputs plan's, with the stage target's ARN).
    targets: tuple[Outcome, ...] = ()

    @property
    def diff(self) -> LayerDiff | None:
        """What this deploy changed (several targets: the stage target's diff)."""
        shown = next((s.diff for s in self.plan.steps if isinstance(s, ShowDiff)), None)
        if shown is None:
            staged = next((t for t in self.targets if t.arn == self.arn), None)
            return staged.diff if staged is not None else None
        return shown

    @property
    def region(self) -> str:
        return parse_layer_arn(self.arn).region if self.arn else ""

    def entry(self) -> dict[str, object]:
        """This target's line in the ARNs file."""
        assert self.manifest is not None and self.arn is not None
        return {
            "architecture": self.manifest.architecture,
            "region": self.region,
            "layer": self.manifest.name,
            "version": self.version,
            "arn": self.arn,
            "code_sha256": self.manifest.code_sha256,
        }


# --- pre-flight -------------------------------------------------------------------------


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


def load_or_build(settings: LayerSettings, *, build: bool, dry_run: bool, log: Log) -> Found:
    """Build, reuse or load the zip: a `Found` with only the build fields set."""
    if not build:
        manifest: Manifest | None = _load_existing_build(settings)
        step = "existing zip"
    elif dry_run:
        from .build import current_manifest

        manifest = current_manifest(settings)
        step = "reuse" if manifest is not None else "rebuild"
    else:
        from .build import build_layer

        result = build_layer(settings, log=log)
        manifest, step = result.manifest, "reuse" if result.reused else "rebuild"
    return Found(
        build=step, manifest=manifest, region="", plain_http=False, latest=None, bucket=None
    )


def _placeholder_arn(settings: LayerSettings, found: Found) -> str:
    """An ARN of this layer one version past the latest: what the config check assumes
    for the version a publish will make (same layer, so it replaces the same entries)."""
    if found.latest is not None:
        return f"{found.latest.layer_arn}:{found.latest.version + 1}"
    if found.arn_before:
        return f"{lambda_.layer_arn_of(found.arn_before)}:1"
    return f"arn:aws:lambda:{found.region}:000000000000:layer:{settings.name}:1"


@dataclass(frozen=True)
class Options:
    """How a deploy runs (the task's flags): plain data for `prepare`."""

    build: bool = True  # False: publish the zip already built (`layer.publish`)
    force: bool = False
    dry_run: bool = False
    update_config: bool = True
    when: dt.datetime | None = None  # the time in the S3 key (tests fix it)


def survey(
    settings: LayerSettings,
    clients: Clients,
    options: Options,
    *,
    log: Log = print,
    built: Found | None = None,
    outputs: bool = True,
) -> Found:
    """Pre-flight: local checks, build (unless dry run or ``built``), then read calls only.

    ``outputs=False``: one target of several whose ARN file, config and function are
    another target's (`make_outputs_plan`): they are neither read nor checked here."""
    force, update_config = options.force, options.update_config and outputs
    validate_bucket_name(settings.bucket)
    for entry in settings.share_with:
        permissions.grant_for(entry)  # a malformed principal fails before any build
    found = built or load_or_build(settings, build=options.build, dry_run=options.dry_run, log=log)
    if found.manifest is not None:
        _check_budget(found.manifest, settings)
    # The outputs are read and checked first: a broken ARN file or config, or one that
    # cannot be written, fails before any upload.
    arn_before = config_before = None
    if outputs:
        arn_before = arn_file.read_arn(settings.arn_file)
        arn_file.check_writable(settings.arn_file)
    if update_config:
        layers = chalice_config.read_stage_layers(settings.chalice_config, settings.stage)
        config_before = tuple(layers)
    if outputs and settings.function:
        functions.get_function(clients.lambda_, settings.function)  # exists, readable
    latest = lambda_.latest_layer_version(clients.lambda_, settings.name)
    sbom = sbom_beside(settings.zip_path)
    found = replace(
        found,
        region=clients.region,
        plain_http=clients.plain_http,
        latest=latest,
        arn_before=arn_before,
        config_before=config_before,
        diff=deploy_diff(clients, settings, found.manifest, latest, log=log),
        sbom=sbom if found.manifest is not None and sbom.is_file() else None,
        ssm_before=_ssm_value(settings, clients),
    )
    unchanged = unchanged_version(found)
    if update_config:
        target = unchanged.arn if unchanged and not force else _placeholder_arn(settings, found)
        changes = chalice_config.preview_stage_layers(
            settings.chalice_config, settings.stage, [target], region=clients.region
        )
        found = replace(found, config_changes=changes)
    if force or unchanged is None:
        # Something will be uploaded: the bucket (ours? in our region?), its lifecycle
        # and a free key are read now. A no-change deploy reads none of them.
        when = options.when or dt.datetime.now(dt.timezone.utc)
        bucket = s3.inspect_bucket(
            clients.s3, settings.bucket, clients.region, plain_http=clients.plain_http
        )
        rules: list[dict[str, object]] = []
        key = s3.object_key(settings.prefix, settings.name, when)
        if bucket.exists:
            rules = s3.get_lifecycle_rules(clients.s3, settings.bucket)
            key = s3.free_key(clients.s3, settings.bucket, settings.prefix, settings.name, when)
        found = replace(found, bucket=bucket, lifecycle_rules=tuple(rules), key=key)
    return found


def _ssm_value(settings: LayerSettings, clients: Clients) -> str | None:
    if not settings.ssm_name:
        return None
    if clients.ssm is None:
        raise LayerError("layer.ssm_parameter is set, but these AWS clients have no SSM client")
    return ssm.read_parameter(clients.ssm, settings.ssm_name)


def prepare(
    settings: LayerSettings, clients: Clients, options: Options, *, log: Log = print
) -> tuple[Plan, Manifest | None]:
    """Pre-flight and plan of a one-target deploy."""
    found = survey(settings, clients, options, log=log)
    return make_plan(settings, found, force=options.force), found.manifest


# --- execute ----------------------------------------------------------------------------


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


class Outdated(Exception):
    """Another deploy published while this one waited for the lock: plan again."""


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
        step.path, step.stage, step.after(run.arn), region=step.region, lock_dir=step.lock_dir
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


def deploy(
    settings: LayerSettings,
    clients: Clients,
    *,
    build: bool = True,
    force: bool = False,
    dry_run: bool = False,
    update_config: bool = True,
    log: Log = print,
    when: dt.datetime | None = None,
    clients_for: Callable[[str], Clients] | None = None,
) -> Outcome:
    """The whole pipeline; with ``dry_run`` only the plan (printed through ``log``).

    Several architectures or regions: `multi_deploy.deploy_targets`, with
    ``clients_for(region)`` making the clients of each region but the home one."""
    if len(settings.architectures) > 1 or len(settings.regions) > 1:
        from .multi_deploy import deploy_targets

        if clients_for is None:
            raise LayerError("a deploy to several regions needs clients for each")
        options = Options(build, force, dry_run, update_config, when)
        return deploy_targets(settings, clients, clients_for, options, log=log)
    for attempt in range(REPLANS):
        # Planned again after waiting for the lock: from the zip already built.
        options = Options(build and attempt == 0, force, dry_run, update_config, when)
        plan, manifest = prepare(settings, clients, options, log=log)
        if dry_run or attempt:
            log("plan (dry run, nothing changed):" if dry_run else "plan, again:")
            for line in plan.lines():
                log(f"  {line}")
        if dry_run:
            return Outcome(plan=plan, arn=None, version=None, published=False, manifest=manifest)
        assert manifest is not None
        try:
            return execute(plan, manifest, clients, log=log)
        except Outdated:
            log("lock: another deploy published while this one waited; planning again")
    raise LayerError(
        f"the layer changed {REPLANS} times while this deploy waited for its lock: "
        "deploy again when the other deploys have finished"
    )
