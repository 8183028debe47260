"""AWS tasks: deploy, publish, versions, code-size, lifecycle, unlock (each with ``--local``)."""

from __future__ import annotations

import json as jsonlib
import sys
from typing import Any

from invoke import Context

from ..aws import deploy_lock, lambda_, s3
from ..chalice_config import read_stage_layers
from ..deploy import Outcome
from ..deploy import deploy as run_deploy
from ..errors import LayerError
from ..footprint import naturalsize
from ..lock import unpinned_warning
from ..settings import validate_bucket_name
from ._aws import open_aws
from ._common import layer_task, settings_from

LOCAL_HELP = "Run against the local moto sandbox on 127.0.0.1 (started if needed)."


def _log(message: str) -> None:
    # Step lines go to stderr; stdout carries the result (the ARN, a table, JSON).
    print(message, file=sys.stderr, flush=True)


def _whole(name: str, value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise LayerError(f"--{name} must be a whole number, got {value!r}") from None


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
    settings, clients = open_aws(settings_from(c, function=function), local)
    if warning := unpinned_warning(settings):
        _log(warning)
    outcome = run_deploy(settings, clients, force=force, dry_run=dry_run, log=_log)
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
    settings, clients = open_aws(settings_from(c), local)
    outcome = run_deploy(settings, clients, build=False, force=force, update_config=False, log=_log)
    print(outcome.arn)
    return outcome


def _stage_arns(settings: Any) -> set[str]:
    try:
        return set(read_stage_layers(settings.chalice_config, settings.stage))
    except LayerError:
        return set()  # no config or no such stage: nothing to mark


@layer_task(help={"json": "Print JSON instead of a table.", "local": LOCAL_HELP})
def versions(c: Context, json: bool = False, local: bool = False) -> list[dict[str, Any]]:
    """List published versions, newest first, marking the one the stage's config uses."""
    settings, clients = open_aws(settings_from(c), local)
    listed = list(lambda_.iter_layer_versions(clients.lambda_, settings.name))
    if not listed:
        raise LayerError(
            f"layer {settings.name} has no published versions in {clients.region}: "
            "run `inv layer.deploy`"
        )
    in_use = _stage_arns(settings)
    rows: list[dict[str, Any]] = []
    for item in listed:
        full = lambda_.get_layer_version(clients.lambda_, settings.name, item.version) or item
        _, unzipped = lambda_.parse_description(full.description)
        rows.append(
            {
                "version": full.version,
                "arn": full.arn,
                "created": full.created,
                "code_size": full.code_size,
                "unzipped_bytes": unzipped,
                "code_sha256": full.code_sha256,
                "runtimes": list(full.runtimes),
                "architectures": list(full.architectures),
                "in_config": full.arn in in_use,
            }
        )
    usage: dict[str, Any] | None = None
    if settings.bucket:
        try:
            objects, total = s3.usage(clients.s3, settings.bucket, settings.prefix, settings.name)
            usage = {"bucket": settings.bucket, "objects": objects, "bytes": total}
        except Exception as exc:  # the listing above is the answer; usage is a footer
            _log(f"S3 usage unavailable: {exc}")
    if json:
        print(
            jsonlib.dumps({"layer": settings.name, "versions": rows, "s3_usage": usage}, indent=2)
        )
        return rows
    print(
        f"{'':2}{'version':>7}  {'created':<29}{'zipped':>10}{'unzipped':>11}  "
        f"{'CodeSha256':<45}runtimes / architectures"
    )
    for row in rows:
        mark = "*" if row["in_config"] else " "
        zipped = naturalsize(row["code_size"]) if row["code_size"] is not None else "?"
        size = row["unzipped_bytes"]
        unzipped_text = naturalsize(size) if size is not None else "?"
        print(
            f"{mark:2}{row['version']:>7}  {row['created']:<29}{zipped:>10}{unzipped_text:>11}  "
            f"{row['code_sha256'] or '?':<45}"
            f"{','.join(row['runtimes'])} / {','.join(row['architectures'])}"
        )
    if any(row["in_config"] for row in rows):
        print(f"* used by stage {settings.stage} in {settings.chalice_config}")
    if usage is not None:
        where = f"s3://{settings.bucket}/{s3.layer_prefix(settings.prefix, settings.name)}"
        print(
            f"S3 usage under {where}: "
            f"{usage['objects']} objects, {naturalsize(usage['bytes'])} ({usage['bytes']:,} bytes)"
        )
    return rows


@layer_task(help={"version": "Layer version number (default: the latest).", "local": LOCAL_HELP})
def code_size(c: Context, version: str | None = None, local: bool = False) -> int:
    """Print the CodeSize (zipped bytes) of one published version."""
    number = _whole("version", version)
    settings, clients = open_aws(settings_from(c), local)
    if number is None:
        found = lambda_.latest_layer_version(clients.lambda_, settings.name)
        if found is None:
            raise LayerError(
                f"layer {settings.name} has no published versions in {clients.region}: "
                "run `inv layer.deploy`"
            )
    else:
        found = lambda_.get_layer_version(clients.lambda_, settings.name, number)
        if found is None:
            raise LayerError(
                f"layer {settings.name} has no version {number} in {clients.region}: "
                "see `inv layer.versions`"
            )
    size = found.code_size or 0
    print(f"{settings.name} version {found.version}: {size:,} bytes ({naturalsize(size)})")
    return size


@layer_task(
    help={
        "days": "Expire layer zips after this many days (default: layer.lifecycle_days).",
        "local": LOCAL_HELP,
    }
)
def lifecycle(c: Context, days: str | None = None, local: bool = False) -> str | None:
    """Create or update the bucket's lifecycle rule for this layer's zips."""
    number = _whole("days", days)
    if number is not None and number <= 0:
        raise LayerError(f"--days must be 1 or more, got {number}")
    settings, clients = open_aws(settings_from(c, lifecycle_days=number), local)
    state = s3.inspect_bucket(
        clients.s3,
        validate_bucket_name(settings.bucket),
        clients.region,
        plain_http=clients.plain_http,
    )
    if not state.exists:
        raise LayerError(
            f"bucket {settings.bucket} does not exist in {clients.region}: "
            "`inv layer.deploy` creates it"
        )
    change = s3.ensure_lifecycle(
        clients.s3, settings.bucket, settings.prefix, settings.name, settings.lifecycle_days
    )
    where = f"s3://{settings.bucket}/{s3.layer_prefix(settings.prefix, settings.name)}"
    if change:
        print(
            f"lifecycle: {change}d rule {s3.lifecycle_rule_id(settings.name)}: zips under "
            f"{where} expire after {settings.lifecycle_days} days"
        )
    else:
        print(f"lifecycle: unchanged ({where} expires after {settings.lifecycle_days} days)")
    return change


@layer_task(help={"local": LOCAL_HELP})
def unlock(c: Context, local: bool = False) -> deploy_lock.LockState | None:
    """Remove the deploy lock object in S3 (only when no deploy is running)."""
    settings, clients = open_aws(settings_from(c), local)
    bucket = validate_bucket_name(settings.bucket)
    key = deploy_lock.lock_key(settings.prefix, settings.name)
    removed = deploy_lock.unlock(clients.s3, bucket, key)
    print(deploy_lock.unlock_report(removed, bucket, key))
    return removed
