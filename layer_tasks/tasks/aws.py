"""AWS tasks: deploy, publish, versions, code-size, lifecycle, unlock (each with ``--local``)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from invoke import Context

from layer_tasks.config.validate import validate_bucket_name
from layer_tasks.tasks import _app
from layer_tasks.tasks._common import layer_task, runtime_files, settings_from

# Each task imports what it uses when it runs: boto3, botocore and the deploy code load
# only for a task that talks to AWS, never for `inv --list` (see bench/startup_bench.py).
if TYPE_CHECKING:
    from layer_tasks.aws.deploy_lock import LockState
    from layer_tasks.deploy.model import Outcome
    from layer_tasks.report.region_versions import AllRegionsReport
    from layer_tasks.report.versions import VersionsReport

LOCAL_HELP = "Run against the local moto sandbox on 127.0.0.1 (started if needed)."


def _log(message: str) -> None:
    # Step lines go to stderr; stdout carries the result (the ARN, a table, JSON).
    print(message, file=sys.stderr, flush=True)


@layer_task(
    help={
        "dry_run": "Print the plan (build, bucket, lifecycle, key, publish, config); no changes.",
        "force": "Publish a new version even when the latest already holds this zip.",
        "local": LOCAL_HELP,
        "function": "Also point this Lambda function at the new version (default: layer.function).",
    }
)
def deploy(
    c: Context,
    dry_run: bool = False,
    force: bool = False,
    local: bool = False,
    function: str | None = None,
) -> Outcome:
    """Build (or reuse), ensure bucket + lifecycle, upload, publish, write ARN file + config."""
    from layer_tasks.build.pylock import unpinned_warning
    from layer_tasks.deploy.run import deploy as run_deploy
    from layer_tasks.report import step_summary
    from layer_tasks.report.step_summary import RegionResult
    from layer_tasks.tasks._aws import open_aws, region_clients

    wanted = settings_from(c, function=function)
    # Before the sandbox, the build and the upload: a bad path once failed after the publish.
    summary = step_summary.checked_path(wanted.per_architecture(), also_read=runtime_files(c))
    app = _app.find(wanted)  # the real project's, not the sandbox copy's
    settings, clients = open_aws(wanted, local, every_target=True, read_only=dry_run)
    for each in settings.per_architecture():
        if warning := unpinned_warning(each):
            _log(warning)
    outcome = run_deploy(
        settings,
        clients,
        force=force,
        dry_run=dry_run,
        log=_log,
        clients_for=region_clients(wanted, local, read_only=dry_run),
        app=app,
    )
    several = len(settings.architectures) > 1
    results = [
        RegionResult(
            t.region or clients.region,
            t.arn,
            t.version,
            t.published,
            t.manifest.architecture if several and t.manifest else "",
        )
        for t in outcome.targets or (outcome,)
    ]
    step_summary.write(
        step_summary.deploy_markdown(outcome.manifest, settings, results, outcome.diff), summary
    )
    if outcome.arn:
        print(outcome.arn)
    return outcome


@layer_task(
    help={
        "force": "Publish even when the latest version already holds this zip.",
        "local": LOCAL_HELP,
    }
)
def publish(c: Context, force: bool = False, local: bool = False) -> Outcome:
    """Upload and publish the already built zip; write the ARN file (config untouched)."""
    from layer_tasks.deploy.run import deploy as run_deploy
    from layer_tasks.tasks._aws import open_aws, region_clients

    wanted = settings_from(c)
    app = _app.find(wanted)
    settings, clients = open_aws(wanted, local, every_target=True)
    outcome = run_deploy(
        settings,
        clients,
        build=False,
        force=force,
        update_config=False,
        log=_log,
        clients_for=region_clients(wanted, local),
        app=app,
    )
    print(outcome.arn)
    return outcome


@layer_task(
    help={
        "json": "Print JSON instead of a table.",
        "local": LOCAL_HELP,
        "all_regions": "Every region of layer.regions side by side: numbers, CodeSha256, skew.",
    }
)
def versions(
    c: Context, json: bool = False, local: bool = False, all_regions: bool = False
) -> VersionsReport | AllRegionsReport:
    """List published versions, newest first, marking the one the stage's config uses."""
    from layer_tasks.report.region_versions import read_all_regions
    from layer_tasks.report.versions import list_versions
    from layer_tasks.tasks._aws import open_aws, region_clients

    if all_regions:
        base = settings_from(c)
        settings, clients = open_aws(base, local, every_target=True, read_only=True)
        other = region_clients(base, local, read_only=True)
        across = read_all_regions(
            settings,
            base.regions or (clients.region,),
            lambda r: clients.lambda_ if r == clients.region else other(r).lambda_,
        )
        print(across.json() if json else across.text())
        across.check()
        return across
    settings, clients = open_aws(settings_from(c), local, read_only=True)
    report = list_versions(clients.lambda_, clients.s3, settings, clients.region)
    print(report.json() if json else report.text())
    return report


@layer_task(help={"version": "Layer version number (default: the latest).", "local": LOCAL_HELP})
def code_size(c: Context, version: str | None = None, local: bool = False) -> int:
    """Print the CodeSize (zipped bytes) of one published version."""
    from layer_tasks.config.validate import whole_flag
    from layer_tasks.model.arns import MAX_VERSION
    from layer_tasks.report.versions import code_size_line, find_version
    from layer_tasks.tasks._aws import open_aws

    number = whole_flag("--version", version, 1, MAX_VERSION)
    settings, clients = open_aws(settings_from(c), local, read_only=True)
    found = find_version(clients.lambda_, settings.name, number, clients.region)
    print(code_size_line(settings.name, found))
    return found.code_size or 0


@layer_task(
    help={
        "days": "Expire layer zips after this many days (default: layer.lifecycle_days).",
        "local": LOCAL_HELP,
    }
)
def lifecycle(c: Context, days: str | None = None, local: bool = False) -> str:
    """Create or update the bucket's lifecycle rule for this layer's zips."""
    from layer_tasks.aws import s3
    from layer_tasks.config.settings import RANGES
    from layer_tasks.config.validate import whole_flag
    from layer_tasks.tasks._aws import open_aws

    number = whole_flag("--days", days, *RANGES["lifecycle_days"])
    settings, clients = open_aws(settings_from(c, lifecycle_days=number), local)
    line = s3.set_layer_lifecycle(
        clients.s3,
        validate_bucket_name(settings.bucket),
        clients.region,
        settings.prefix,
        settings.name,
        settings.lifecycle_days,
        plain_http=clients.plain_http,
    )
    print(line)
    return line


@layer_task(help={"local": LOCAL_HELP})
def unlock(c: Context, local: bool = False) -> LockState | None:
    """Remove the deploy lock object in S3 (only when no deploy is running)."""
    from layer_tasks.aws import deploy_lock
    from layer_tasks.tasks._aws import open_aws

    settings, clients = open_aws(settings_from(c), local)
    bucket = validate_bucket_name(settings.bucket)
    key = deploy_lock.lock_key(settings.prefix, settings.name)
    removed = deploy_lock.unlock(clients.s3, bucket, key)
    print(deploy_lock.unlock_report(removed, bucket, key))
    return removed
