"""Tasks that point a Chalice stage or a function at a layer version, and clean up.

``layer.update-config``, ``layer.rollback``, ``layer.cleanup``, ``layer.function-layers``.
Thin wrappers: settings and clients in, library call, print, errors become one line.
"""

from __future__ import annotations

from typing import Any

from invoke import Context

from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.tasks._common import layer_task, settings_from

# Each task imports what it uses when it runs: the AWS and deploy code (boto3, botocore)
# load only for the task that needs them, never for `inv --list` (bench/startup_bench.py).


def _config_region(settings: LayerSettings) -> str | None:
    # No AWS call is needed to edit the config; the region only checks the ARNs.
    from layer_tasks.aws.session import make_session

    return settings.region or make_session(settings).region_name or None


@layer_task(
    iterable=["arn"],
    help={
        "arn": "layer version ARN to use (repeat for several, in order; default: the ARN file's)",
        "stage": "Chalice stage to change (default: layer.stage)",
        "create-stage": "add the stage to the config if it does not exist",
        "function": "also apply the layers to this Lambda function (default: layer.function)",
        "local": "use the local sandbox (its copies of the config and ARN file)",
    },
)
def update_config(
    c: Context,
    arn: Any = None,
    stage: Any = None,
    create_stage: bool = False,
    function: Any = None,
    local: bool = False,
) -> None:
    """Put layer ARN(s) into stages.<stage>.layers of the Chalice config."""
    from layer_tasks.deploy.stage_update import arns_to_use, update_stage
    from layer_tasks.tasks._aws import open_aws

    settings = settings_from(c, stage=stage, function=function)
    clients = None
    if local or settings.function:
        settings, clients = open_aws(settings, local)
    arns = arns_to_use(settings, list(arn or []))
    region = clients.region if clients else _config_region(settings)
    for change in update_stage(
        settings,
        arns,
        region=region,
        create_stage=create_stage,
        lambda_client=clients.lambda_ if clients else None,
    ):
        print("\n".join(change.lines()))


@layer_task(
    help={
        "version": "layer version number to point the stage at",
        "previous": "the version before the one the stage uses now",
        "stage": "Chalice stage (default: layer.stage)",
        "function": "also point this Lambda function at it (default: layer.function)",
        "local": "use the local sandbox",
    },
)
def rollback(
    c: Context,
    version: Any = None,
    previous: bool = False,
    stage: Any = None,
    function: Any = None,
    local: bool = False,
) -> None:
    """Point the stage at an earlier (or any) published layer version after checking it."""
    from layer_tasks.deploy.rollback import apply_rollback, check_args, describe, plan_rollback
    from layer_tasks.deploy.stage_update import LayersChange
    from layer_tasks.tasks._aws import open_aws

    # --version arrives as text ("two", "-1"): judged here, before any AWS call.
    check_args(version, previous)
    settings = settings_from(c, stage=stage, function=function)
    settings, clients = open_aws(settings, local)
    plan = plan_rollback(clients.lambda_, settings, version=version, previous=previous)
    function_change = apply_rollback(
        plan, settings, region=clients.region, client=clients.lambda_, function=settings.function
    )
    print(f"layer {plan.name}, stage {plan.stage} ({settings.chalice_config}):")
    print("  " + describe("was", plan.was, plan.was_detail))
    print("  " + describe("now", None, plan.now))
    print(f"  ARN file {settings.arn_file}: {plan.now.arn}")
    if function_change is not None:
        before, after = function_change
        change = LayersChange(f"function {settings.function} layers", tuple(before), tuple(after))
        print("\n".join(change.lines()))


@layer_task(
    help={
        "keep": "how many of the newest versions to keep (at least 1)",
        "dry-run": "list what would be deleted, delete nothing",
        "function": "also keep the versions this Lambda function uses (default: layer.function)",
        "local": "use the local sandbox",
    },
)
def cleanup(
    c: Context, keep: Any = None, dry_run: bool = False, function: Any = None, local: bool = False
) -> None:
    """Delete old layer versions, never one a config stage, the ARN file or --function uses."""
    from layer_tasks.deploy.cleanup import check_keep
    from layer_tasks.deploy.cleanup import cleanup as run_cleanup_task
    from layer_tasks.tasks._aws import open_aws

    if keep is None:
        raise LayerError("pass --keep N: how many of the newest versions to keep (at least 1)")
    keep_n = check_keep(keep)
    settings = settings_from(c, function=function)
    settings, clients = open_aws(settings, local, read_only=dry_run)
    result = run_cleanup_task(clients.lambda_, settings, keep_n, dry_run=dry_run)
    print("\n".join(result.lines(keep_n)))


def _size(value: int | None) -> str:
    return f"{value:,} bytes" if value is not None else "unknown"


@layer_task(
    help={
        "function": "Lambda function name or ARN (default: layer.function)",
        "local": "use the local sandbox",
    },
)
def function_layers(c: Context, function: Any = None, local: bool = False) -> None:
    """List a Lambda function's layers with their sizes."""
    from layer_tasks.aws.functions import get_function, get_function_layers
    from layer_tasks.tasks._aws import open_aws

    settings = settings_from(c, function=function)
    if not settings.function:
        raise LayerError("pass --function NAME (or set layer.function)")
    settings, clients = open_aws(settings, local, read_only=True)
    info = get_function(clients.lambda_, settings.function)
    layers = get_function_layers(clients.lambda_, settings.function)
    print(f"function {info.name}: code {_size(info.code_size)} zipped")
    for layer in layers:
        extra = f", {_size(layer.unzipped_bytes)} unzipped" if layer.unzipped_bytes else ""
        print(f"  {layer.arn}: {_size(layer.code_size)} zipped{extra}")
    if not layers:
        print("  (no layers)")
    total = info.code_size + sum(layer.code_size or 0 for layer in layers)
    print(f"total zipped: {_size(total)}")
